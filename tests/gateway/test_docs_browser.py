"""/api/docs in a real browser: Swagger UI renders every operation from the served document,
shows no warning or error, and its strict Content-Security-Policy blocks nothing it needs."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile

import pytest

from gateway.routes import ENDPOINTS
from tests.gateway.support import Gateway

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium on this machine (Debian: apt install chromium)")


async def _render(url: str) -> tuple[str, str]:
    """The page's DOM once Swagger UI has settled, and the browser's console log."""
    with tempfile.TemporaryDirectory() as profile:
        proc = await asyncio.create_subprocess_exec(
            _browser(),
            "--headless",
            "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            # Virtual time stops while a request is in flight, so the budget counts only
            # the page's own timers: the render does not depend on how busy the machine is.
            "--virtual-time-budget=20000",
            "--dump-dom",
            url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "HOME": profile},
        )
        out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode(), err.decode(errors="replace")


async def test_swagger_ui_renders_every_operation_without_a_warning(gw: Gateway) -> None:
    dom, console = await _render(str(gw.client.make_url("/api/docs")))
    assert "EV charging partner API" in dom, dom[:2000]
    warnings = re.findall(r'class="errors-wrapper".{0,600}', dom)
    assert not warnings, warnings
    rendered = set(re.findall(r'data-path="([^"]+)"', dom))
    documented = {ep.path for ep in ENDPOINTS}
    assert documented <= rendered, documented - rendered
    blocked = [line for line in console.splitlines() if "Content Security Policy" in line]
    assert not blocked, blocked
