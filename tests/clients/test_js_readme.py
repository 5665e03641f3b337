"""clients/js/README.md works as written: its install steps and its "Five lines" example,
read from the README itself (so the test fails when the README drifts), run as a user would.

The spec the README states:
- Install, from a checkout: `(cd clients/js && npm install)` in the checkout installs the build
  tools and builds the client once; then `npm install /path/to/checkout/clients/js` in your
  project installs it by its path.
- Five lines: with `. .evcs/dev.env` (written by `make dev`), i.e. EVCS_DEMO_API_KEY the demo
  partner's key and EVCS_GATEWAY_URL the local gateway, the example switches the demo charger
  DEMO-16-1 on and prints the charger's answer and the charger's status: `Accepted <STATUS>`.

The checkout is a copy of clients/js without its build output and installed tools, so the
steps start from what a fresh clone has and never touch this checkout's node_modules. The
project is a fresh `npm init -y` folder; the example is saved as a .mjs file (its `import`
and top-level `await` need a module, and `npm init` makes a CommonJS package).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from pathlib import Path

import httpx
import pytest

from evcs import demo
from shared import registry
from shared.redis_keys import Keys
from shared.registry.projection import project
from shared.status import PartnerStatus
from simulators.runner import make_charger
from tests.clients.conftest import JS, Live, eventually, run, sent

README = JS / "README.md"
# the README's stand-in for where the reader's checkout is
CHECKOUT_PLACEHOLDER = "/path/to/checkout"
# the comment that starts the README's steps for a checkout
FROM_A_CHECKOUT = "# from a checkout of this repository"
_FENCE = re.compile(r"^```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^```", re.M | re.S)


def block(section: str, language: str) -> str:
    """The one fenced block of `language` in the README's `## section`."""
    text = README.read_text()
    match = re.search(rf"^## {re.escape(section)}\n(?P<body>.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"clients/js/README.md has no '## {section}' section"
    bodies = [m["body"] for m in _FENCE.finditer(match["body"]) if m["lang"] == language]
    assert len(bodies) == 1, f"'## {section}' should have one {language} block: {bodies}"
    return bodies[0]


def checkout_steps() -> tuple[str, str]:
    """The Install block's steps for a checkout: (run in the checkout, run in your project)."""
    install = block("Install", "sh")
    assert FROM_A_CHECKOUT in install, install
    after = install.split(FROM_A_CHECKOUT, 1)[1].split("\n", 1)[1]
    commands = [
        line.strip()
        for line in after.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert len(commands) == 2, f"expected a step in the checkout and one in a project: {after}"
    in_checkout, in_project = commands
    assert CHECKOUT_PLACEHOLDER not in in_checkout and CHECKOUT_PLACEHOLDER in in_project, commands
    return in_checkout, in_project


async def own_demo_charger(live: Live, charger_id: str, protocol: str) -> str:
    """What `make dev` seeds for the example: the demo partner owning `charger_id`, and a key
    of the demo partner (returned). The session's database is shared with the `evcs dev`
    tests, which seed the same partner and charger under a Redis prefix of their own: reuse
    what they left and leave what they expect (they accept an existing partner and charger)."""
    keys = Keys.of(live.settings)
    try:
        await registry.create_partner(live.pool, "Demo partner", partner_id=demo.DEMO_PARTNER)
    except registry.Conflict:
        pass
    try:
        await registry.register_charger(
            live.pool,
            live.rds,
            keys,
            charger_id,
            protocol=protocol,
            partner_id=demo.DEMO_PARTNER,
        )
    except registry.Conflict:
        # Registered by an `evcs dev` test: its ownership is projected into that run's Redis
        # prefix only, so project it into this system's as well (the gateway reads Redis).
        await registry.assign_charger(live.pool, live.rds, keys, charger_id, demo.DEMO_PARTNER)
        row = await live.pool.fetchrow("SELECT * FROM chargers WHERE id = $1", charger_id)
        await project(live.rds, keys, row)
        await registry.announce(live.rds, keys, charger=charger_id)
    _, key = await registry.issue_api_key(live.pool, demo.DEMO_PARTNER)
    return key


@pytest.mark.timeout(900)  # two `npm install`s over the network, each allowed 300 s by `run`
async def test_the_readme_install_and_example_work_as_written(live: Live, tmp_path: Path) -> None:
    # read first: a README that drifted fails even where node is missing
    in_checkout, in_project = checkout_steps()
    example = block("Five lines", "js")
    # the demo charger it names (DEMO-16-1), and the protocol `make dev` simulates it with
    named = set(re.findall(r'"(DEMO-[\w-]+)"', example))
    assert len(named) == 1, f"expected one demo charger: {example}"
    charger_id = named.pop()
    protocol = dict(demo.DEMO_CHARGERS)[charger_id]
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node is not installed")

    key = await own_demo_charger(live, charger_id, protocol)
    charger = make_charger(charger_id, live.node.url, protocol, meter_interval=0.2)
    await charger.start(timeout=10)
    live.chargers[charger_id] = charger  # stopped with the system
    # as after `make dev`: the charger has reported its connectors before the example runs
    async with httpx.AsyncClient(headers={"x-api-key": key}) as http:

        async def available() -> bool:
            response = await http.get(f"{live.api_url}/chargers/{charger_id}/status")
            return response.status_code == 200 and response.json()["status"] == "AVAILABLE"

        await eventually(available)

    env = {
        **os.environ,
        # no audit, funding or update notices: the commands themselves stay the README's
        "npm_config_audit": "false",
        "npm_config_fund": "false",
        "npm_config_update_notifier": "false",
        # what `. .evcs/dev.env` sets
        "EVCS_DEMO_API_KEY": key,
        "EVCS_GATEWAY_URL": live.api_url,
    }
    checkout = tmp_path / "checkout"
    shutil.copytree(
        JS,
        checkout / "clients" / "js",
        ignore=shutil.ignore_patterns("node_modules", "dist", ".samples", "*.tgz"),
    )
    code, output = await run("sh", "-e", "-c", in_checkout, cwd=checkout, env=env)
    assert code == 0, f"{in_checkout}\n{output}"

    project_dir = tmp_path / "project"
    project_dir.mkdir()
    code, output = await run("npm", "init", "-y", cwd=project_dir, env=env)
    assert code == 0, output
    command = in_project.replace(CHECKOUT_PLACEHOLDER, shlex.quote(str(checkout)))
    code, output = await run("sh", "-e", "-c", command, cwd=project_dir, env=env)
    assert code == 0, f"{command}\n{output}"

    (project_dir / "example.mjs").write_text(example)
    code, output = await run("node", "example.mjs", cwd=project_dir, env=env)
    assert code == 0, f"{example}\n{output}"
    line = re.fullmatch(r"(\w+) (\w+)", output.strip())
    assert line, output
    assert line[1] == "Accepted", output
    assert line[2] in set(PartnerStatus), output
    # the "on" reached the charger, once
    assert sent(charger, "RemoteStartTransaction") == 1
