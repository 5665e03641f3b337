"""What the `evcs admin` tests share: the command run as from a shell, on the session's servers."""

from __future__ import annotations

import asyncio

import pytest

from evcs import cli
from shared.settings import Settings


@pytest.fixture
def admin(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> object:
    monkeypatch.setenv("EVCS_DATABASE_URL", str(settings.database_url))
    monkeypatch.setenv("EVCS_REDIS_URL", str(settings.redis_url))
    monkeypatch.setenv("EVCS_REDIS_PREFIX", settings.redis_prefix)

    async def run(*argv: str, fails: bool = False) -> str:
        capsys.readouterr()
        try:
            # in a thread: the command runs its own event loop, as it does from a shell
            await asyncio.to_thread(cli.main, ["admin", *argv])
        except SystemExit as exc:
            assert fails and exc.code == 1, capsys.readouterr()
            return capsys.readouterr().err
        assert not fails
        return capsys.readouterr().out

    return run
