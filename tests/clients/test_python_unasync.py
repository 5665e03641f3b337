"""The synchronous Python client is generated from the asynchronous one: each checked-in
generated module is what clients/python/scripts/unasync.py makes of its async_ source, and
the check fails when only one of the two is edited, or a generated module lost its source."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clients.conftest import CLIENTS, ROOT

SCRIPT = Path("clients", "python", "scripts", "unasync.py")
PACKAGE = Path("clients", "python", "src", "evcharging_client")
# The generated modules checked in: client.py, admin.py, event_stream.py, _transport.py, ...
GENERATED = sorted(
    path.name
    for path in (ROOT / PACKAGE).glob("*.py")
    if path.read_text().startswith("# Generated from ")
)


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(root / SCRIPT), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _copy(root: Path) -> None:
    """A copy of all the check reads: the project's ruff settings and the client package."""
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    shutil.copytree(
        CLIENTS / "python",
        root / "clients" / "python",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
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
    _copy(tmp_path)
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


def test_every_module_of_the_async_client_has_a_generated_twin() -> None:
    sources = sorted(path.name for path in (ROOT / PACKAGE).glob("*async_*.py"))
    assert len(sources) > 1  # the client is split into several modules
    assert GENERATED == sorted(name.replace("async_", "", 1) for name in sources)


@pytest.mark.parametrize("generated", GENERATED)
def test_the_check_covers_every_generated_module(tmp_path: Path, generated: str) -> None:
    _copy(tmp_path)
    path = tmp_path / PACKAGE / generated
    path.write_text(path.read_text() + "# edited by hand\n")

    done = _check(tmp_path)
    assert done.returncode == 1
    assert "-# edited by hand" in done.stdout
    assert f"{generated} is not what " in done.stderr


def test_the_check_fails_on_a_generated_module_whose_source_is_gone(tmp_path: Path) -> None:
    _copy(tmp_path)
    package = tmp_path / PACKAGE
    (package / "old_client.py").write_text((package / "client.py").read_text())

    done = _check(tmp_path)
    assert done.returncode == 1
    assert "old_client.py is generated, but no async_ module generates it" in done.stderr
