"""The machine a run is recorded on names the kernel's autogroup when it is on."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import cli


@pytest.mark.parametrize(("setting", "named"), [("1\n", True), ("0\n", False), (None, False)])
def test_the_machine_names_autogroup_only_when_it_is_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str | None, named: bool
) -> None:
    flag = tmp_path / "sched_autogroup_enabled"
    if setting is not None:
        flag.write_text(setting)
    monkeypatch.setattr(cli, "AUTOGROUP", flag)
    machine = cli.machine()
    assert machine.endswith(", autogroup on") is named
    assert " cores, Python " in machine
