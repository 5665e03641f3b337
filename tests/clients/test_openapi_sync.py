"""The clients are built on the gateway's own OpenAPI document: the checked-in copy
(clients/openapi.json) and the TypeScript types generated from it must be what the running
gateway serves. When this fails, run `python clients/export_openapi.py` and commit the result."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import httpx

from tests.clients.conftest import CLIENTS, Live, run

sys.path.insert(0, str(CLIENTS))
import export_openapi


async def _served(live: Live) -> str:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{live.url}/api/openapi.json")
    assert response.status_code == 200
    return export_openapi.render(response.json())


async def test_checked_in_document_is_what_the_gateway_serves(live: Live) -> None:
    served = await _served(live)
    assert (CLIENTS / "openapi.json").read_text() == served, (
        "clients/openapi.json is stale: run `python clients/export_openapi.py`"
    )
    # the export script reads the same document without a running gateway
    assert export_openapi.render(await export_openapi.read_served_document()) == served


async def test_typescript_types_are_generated_from_the_served_document(
    live: Live, js_client: Path, tmp_path: Path
) -> None:
    document = tmp_path / "openapi.json"
    document.write_text(await _served(live))
    node = shutil.which("node")
    assert node is not None
    code, output = await run(node, "scripts/check-types.mjs", str(document), cwd=js_client)
    assert code == 0, output

    # and the check notices a change the types do not follow
    changed = json.loads(document.read_text())
    changed["components"]["schemas"]["ChargerJson"]["properties"]["brandNew"] = {"type": "string"}
    document.write_text(json.dumps(changed))
    code, output = await run(node, "scripts/check-types.mjs", str(document), cwd=js_client)
    assert code == 1 and "stale" in output
