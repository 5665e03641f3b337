"""The documentation site builds strictly (a broken link, anchor or missing page fails), and
every code sample of the partner guide runs against the running system.

Which samples run: in docs/partners/*.md, every fenced block in `python`, `sh` or `js`
(`bash`, `http`, `json` and `text` blocks are shown, not run). They run in page order as a
partner would paste them, after `. .evcs/dev.env`: EVCS_GATEWAY_URL and EVCS_DEMO_API_KEY
are set, and the demo chargers they name are connected simulated chargers (fresh ones for each
page). A `sh` block must not print an error body unless it says `# expect: <status>`.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.clients.conftest import CLIENTS, ROOT, Live, eventually, run

DOCS = ROOT / "docs"
PAGES = sorted((DOCS / "partners").glob("*.md"))
RUN = {"python", "sh", "js"}
# demo charger -> the protocol of the simulated charger that stands in for it
DEMO_CHARGERS = {"DEMO-16-1": "ocpp1.6", "DEMO-201-1": "ocpp2.0.1", "DEMO-16-2": "ocpp1.6"}
_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.M | re.S
)


@dataclass(frozen=True)
class Sample:
    page: str
    line: int
    language: str
    code: str


def samples(page: Path) -> list[Sample]:
    text = page.read_text()
    out = []
    for match in _FENCE.finditer(text):
        if match["lang"] not in RUN:
            continue
        indent = match["indent"]
        code = "\n".join(
            line[len(indent) :] if line.startswith(indent) else line
            for line in match["body"].splitlines()
        )
        line = text.count("\n", 0, match.start()) + 1
        out.append(Sample(page.name, line, match["lang"], code + "\n"))
    return out


async def test_the_site_builds_strictly(tmp_path: Path) -> None:
    code, output = await run(
        sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path), cwd=ROOT
    )
    assert code == 0, output
    reference = (tmp_path / "reference" / "api.html").read_text()
    document = json.loads((CLIENTS / "openapi.json").read_text())
    # the reference renders every operation and schema of the document
    for ops in document["paths"].values():
        for op in ops.values():
            assert f'id="{op["operationId"].lower()}"' in reference, op["operationId"]
    for name in document["components"]["schemas"]:
        assert f'id="schema-{name.lower()}"' in reference, name
    settings = (tmp_path / "operators" / "settings.html").read_text()
    assert "EVCS_COMMAND_TIMEOUT" in settings and "EVCS_ADMIN_TOKEN" in settings
    errors = (tmp_path / "partners" / "errors.html").read_text()
    for status in ("400", "401", "404", "409", "429", "503", "504"):
        assert f'id="{status}-' in errors, status


def test_the_partner_guide_has_runnable_samples_in_each_language() -> None:
    languages = {s.language for page in PAGES for s in samples(page)}
    assert languages == RUN
    assert sum(len(samples(page)) for page in PAGES) >= 20


@pytest.mark.parametrize("page", [p for p in PAGES if samples(p)], ids=lambda p: p.stem)
async def test_partner_guide_samples_run_against_the_system(
    page: Path, live: Live, js_client: Path
) -> None:
    ids = {demo: live.new_id(demo.replace("DEMO", "DOC")) for demo in DEMO_CHARGERS}
    for demo, protocol in DEMO_CHARGERS.items():
        await live.plug_in(ids[demo], protocol)
    await _until_available(live, list(ids.values()))
    env = {
        **os.environ,
        "EVCS_GATEWAY_URL": live.api_url,
        "EVCS_DEMO_API_KEY": live.partner.key,
        "PYTHONPATH": str(CLIENTS / "python" / "src"),
    }
    scratch = js_client / ".samples"
    scratch.mkdir(exist_ok=True)
    for n, sample in enumerate(samples(page)):
        code = sample.code
        for demo, real in ids.items():
            code = code.replace(demo, real)
        where = f"{sample.page}:{sample.line} ({sample.language})"
        if sample.language == "python":
            status, output = await run(sys.executable, "-c", code, cwd=ROOT, env=env)
        elif sample.language == "sh":
            status, output = await run("sh", "-e", "-c", code, cwd=ROOT, env=env)
        else:
            script = scratch / f"{page.stem}-{n}.mjs"
            script.write_text(code)
            try:
                status, output = await run("node", str(script), cwd=js_client, env=env)
            finally:
                script.unlink()
        assert status == 0, f"{where} failed:\n{code}\n{output}"
        expected = re.findall(r"#\s*expect:\s*(\d{3})", code)
        if sample.language == "sh":
            if expected:
                assert all(f'"statusCode":{s}' in output.replace(" ", "") for s in expected), (
                    f"{where} did not answer {expected}:\n{output}"
                )
            else:
                assert '"statusCode"' not in output, f"{where} answered an error:\n{output}"


async def _until_available(live: Live, charger_ids: list[str]) -> None:
    """Wait until the chargers have reported their connectors (as after `make dev` starts)."""
    async with httpx.AsyncClient(headers={"x-api-key": live.partner.key}) as http:

        async def ready() -> bool:
            response = await http.get(
                f"{live.api_url}/chargers/batch/status", params={"ids": ",".join(charger_ids)}
            )
            chargers = response.json()["chargers"]
            return len(chargers) == len(charger_ids) and all(
                c["status"] == "AVAILABLE" for c in chargers
            )

        await eventually(ready)
