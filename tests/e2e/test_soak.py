"""`evcs soak` for a few seconds: its own servers and processes, two kinds of fault, a
summary that counts, exit code 0, and nothing left behind."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

# seed 15: a link reset (2.0 s) after 2.6 s, then a csms kill after 2.1 s more
SOAK = ["soak", "--minutes", "0.25", "--seed", "15", "--chargers", "2"]
FAULTS = ["--faults", "csms-kill,link-reset"]


def _figure(text: str, label: str) -> int:
    match = re.search(rf"{re.escape(label)}: ([\d,]+)", text)
    assert match, f"no {label!r} in:\n{text}"
    return int(match[1].replace(",", ""))


def test_a_short_soak_passes_and_cleans_up() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "evcs", *SOAK, *FAULTS],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=100,
        check=False,
    )
    text = done.stdout.decode()
    assert done.returncode == 0, text
    assert "seed 15" in text
    assert "chargers: 2 OCPP 1.6 + 2 OCPP 2.0.1" in text
    assert _figure(text, "messages acknowledged") > 100
    assert _figure(text, "lost (acknowledged, not in PostgreSQL)") == 0
    assert _figure(text, "duplicated (extra rows for one message)") == 0
    assert _figure(text, "  unanswered") == 0
    kinds = set(re.findall(r"^  (csms-kill|link-reset) +\d+ ", text, re.M))
    assert kinds == {"csms-kill", "link-reset"}, text
    assert "result: PASS" in text
    # its folder (the servers' data, the logs) is gone with its servers
    logs = re.search(r"^logs: (\S+)", text, re.M)
    assert logs, text
    assert not Path(logs[1]).parent.exists()
