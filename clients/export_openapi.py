"""Regenerate clients/openapi.json from what the gateway app serves at GET /api/openapi.json,
and the TypeScript types generated from it (when the JS toolchain is installed).

    python clients/export_openapi.py          # write both
    python clients/export_openapi.py --check  # exit 1 when a checked-in copy is stale
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

CLIENTS = Path(__file__).resolve().parent
ROOT = CLIENTS.parent
DOCUMENT = CLIENTS / "openapi.json"
JS = CLIENTS / "js"
TYPES = JS / "src" / "schema.ts"
OPENAPI_PATH = "/api/openapi.json"


async def read_served_document() -> dict[str, Any]:
    """The document exactly as the gateway's route answers it (no storage is touched)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request

    from gateway.app import create_app
    from shared.settings import Settings

    # create_app only records the URLs; nothing connects until the app starts
    settings = Settings(redis_url="redis://127.0.0.1:6379/0", database_url="postgresql:///evcs")
    app = create_app(settings)
    request = make_mocked_request("GET", OPENAPI_PATH, app=app)
    match = await app.router.resolve(request)
    response = await match.handler(request)
    assert isinstance(response, web.Response) and isinstance(response.body, bytes)
    document: dict[str, Any] = json.loads(response.body)
    return document


def served_document() -> dict[str, Any]:
    return asyncio.run(read_served_document())


def render(document: dict[str, Any]) -> str:
    """The checked-in form: stable, readable diffs."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def generate_types(document_path: Path, out: Path) -> None:
    """Run openapi-typescript (clients/js devDependency) on a document."""
    npx = shutil.which("npx")
    binary = JS / "node_modules" / ".bin" / "openapi-typescript"
    if npx is None or not binary.exists():
        raise FileNotFoundError("openapi-typescript is not installed: run `npm ci` in clients/js")
    subprocess.run(
        [str(binary), str(document_path), "--output", str(out)],
        cwd=JS,
        check=True,
        capture_output=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a checked-in copy is stale")
    args = parser.parse_args()
    text = render(served_document())
    if args.check:
        if DOCUMENT.read_text() != text:
            print(f"{DOCUMENT.relative_to(ROOT)} is stale: run {Path(__file__).name}")
            return 1
        print("openapi.json is current")
        return 0
    DOCUMENT.write_text(text)
    print(f"wrote {DOCUMENT.relative_to(ROOT)}")
    try:
        generate_types(DOCUMENT, TYPES)
    except FileNotFoundError as exc:
        print(f"skipped the TypeScript types: {exc}")
        return 0
    print(f"wrote {TYPES.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
