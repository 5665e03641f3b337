"""The JS client's own tests (node's test runner) against the running system: this test
starts the system, connects the chargers they use, and runs `node --test`."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from tests.clients.conftest import Live, run, sent


async def test_js_client_against_a_running_gateway(live: Live, js_client: Path) -> None:
    charger = live.new_id("JS")
    idempotent = live.new_id("JSI")
    events = live.new_id("JSE")
    offline = live.new_id("JSO")
    reset = live.new_id("JSR")
    for charger_id in (charger, idempotent, events, reset):
        await live.plug_in(charger_id)
    await live.register(offline)
    limited = await live.make_partner(minute=2, hour=1000)
    env = {
        **os.environ,
        "EVCS_TEST_BASE_URL": live.url,
        "EVCS_TEST_API_KEY": live.partner.key,
        "EVCS_TEST_LIMITED_KEY": limited.key,
        "EVCS_TEST_CHARGER": charger,
        "EVCS_TEST_IDEM_CHARGER": idempotent,
        "EVCS_TEST_EVENTS_CHARGER": events,
        "EVCS_TEST_OFFLINE_CHARGER": offline,
        "EVCS_TEST_RESET_CHARGER": reset,
    }
    node = shutil.which("node")
    assert node is not None
    code, output = await run(
        node, "--test", "--test-reporter=spec", "test/", cwd=js_client, env=env
    )
    assert code == 0, output
    assert re.search(r"\bpass (\d+)", output) and re.search(r"\bskipped 0\b", output), output
    assert int(re.findall(r"\bpass (\d+)", output)[-1]) >= 10, output
    # the lost answer was retried under the same key: the charger was started once
    assert sent(live.chargers[idempotent], "RemoteStartTransaction") == 1
    assert sent(live.chargers[reset], "Reset") == 1
