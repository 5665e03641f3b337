"""The synchronous Python client is generated from the asynchronous one: the checked-in file
is what clients/python/scripts/unasync.py makes, and its check fails when only one is edited."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clients.conftest import CLIENTS, ROOT

SCRIPT = Path("clients", "python", "scripts", "unasync.py")
PACKAGE = Path("clients", "python", "src", "evcharging_client")


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(root / SCRIPT), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_the_sync_client_is_generated_from_the_async_one() -> None:
    done = _check(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("edited", "old", "new"),
    [
        ("client.py", "    def get_command(", "    def get_command_state("),
        ("async_client.py", "    async def get_command(", "    async def get_command_state("),
    ],
)
def test_the_check_fails_when_one_client_is_edited_alone(
    tmp_path: Path, edited: str, old: str, new: str
) -> None:
    # a copy of all the check reads: the project's ruff settings and the client package
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(
        CLIENTS / "python",
        tmp_path / "clients" / "python",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    assert _check(tmp_path).returncode == 0  # the copy checks like the original
    path = tmp_path / PACKAGE / edited
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new))

    done = _check(tmp_path)
    assert done.returncode == 1
    removed, added = ("-", "+") if edited == "client.py" else ("+", "-")
    assert f"{removed}    def get_command_state(self" in done.stdout
    assert f"{added}    def get_command(self" in done.stdout
    assert "is not what async_client.py generates" in done.stderr
