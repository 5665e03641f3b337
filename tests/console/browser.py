"""Headless Chromium driven over the DevTools protocol (CDP): enough of a browser for the
console's tests to sign in, click, type, wait for what a page shows and take screenshots,
with nothing but the `websockets` package.

Clicks and typing are real input events (Input.dispatchMouseEvent, Input.insertText), aimed at
the element's box; every wait polls a condition in the page, never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_DEVTOOLS = re.compile(r"DevTools listening on (ws://\S+)")


def find_browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


class BrowserError(AssertionError):
    """The page did not do what the test waited for."""


class Browser:
    """One Chromium process and its DevTools connection; pages in isolated contexts."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self._profile = tempfile.TemporaryDirectory(prefix="evcs-chromium-")
        self._process: asyncio.subprocess.Process | None = None
        self._ws: ClientConnection | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._pages: dict[str, Page] = {}
        self._reader: asyncio.Task[None] | None = None

    async def start(self, timeout: float = 60) -> None:
        profile = self._profile.name
        self._process = await asyncio.create_subprocess_exec(
            self.executable,
            "--headless",
            "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--hide-scrollbars",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "HOME": profile},
        )
        url = await asyncio.wait_for(self._devtools_url(), timeout)
        self._ws = await connect(url, max_size=None, ping_interval=None)
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _devtools_url(self) -> str:
        assert self._process is not None and self._process.stderr is not None
        seen = []
        while True:
            line = await self._process.stderr.readline()
            if not line:
                raise BrowserError("Chromium ended before it listened:\n" + "".join(seen[-20:]))
            text = line.decode(errors="replace")
            seen.append(text)
            found = _DEVTOOLS.search(text)
            if found:
                # keep draining stderr, or a chatty browser fills the pipe and stalls
                asyncio.get_running_loop().create_task(self._drain(self._process.stderr))
                return found.group(1)

    @staticmethod
    async def _drain(stream: asyncio.StreamReader) -> None:
        while await stream.readline():
            pass

    async def stop(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), 10)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
        self._profile.cleanup()

    async def _read(self) -> None:
        assert self._ws is not None
        async for raw in self._ws:
            message = json.loads(raw)
            if "id" in message:
                future = self._waiting.pop(message["id"], None)
                if future is not None and not future.done():
                    if "error" in message:
                        future.set_exception(BrowserError(str(message["error"])))
                    else:
                        future.set_result(message.get("result", {}))
            elif message.get("sessionId") in self._pages:
                self._pages[message["sessionId"]].on_event(message["method"], message["params"])

    async def send(self, method: str, session: str | None = None, **params: Any) -> Any:
        assert self._ws is not None
        call_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[call_id] = future
        message: dict[str, Any] = {"id": call_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        await self._ws.send(json.dumps(message))
        return await asyncio.wait_for(future, 60)

    @asynccontextmanager
    async def page(self, width: int = 1280, height: int = 860) -> AsyncIterator[Page]:
        """A page in a context of its own: no cookie or storage shared with other pages."""
        context = (await self.send("Target.createBrowserContext"))["browserContextId"]
        target = (
            await self.send("Target.createTarget", url="about:blank", browserContextId=context)
        )["targetId"]
        session = (await self.send("Target.attachToTarget", targetId=target, flatten=True))[
            "sessionId"
        ]
        page = Page(self, session)
        self._pages[session] = page
        try:
            await page.setup(width, height)
            yield page
        finally:
            self._pages.pop(session, None)
            await self.send("Target.closeTarget", targetId=target)
            await self.send("Target.disposeBrowserContext", browserContextId=context)


class Page:
    """One tab: navigate, evaluate, wait for conditions, click and type, screenshots."""

    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session
        self.problems: list[str] = []  # uncaught exceptions, console errors, CSP reports
        self._loaded = asyncio.Event()

    async def send(self, method: str, **params: Any) -> Any:
        return await self.browser.send(method, self.session, **params)

    async def setup(self, width: int, height: int) -> None:
        for domain in ("Page", "Runtime", "Log", "Network"):
            await self.send(f"{domain}.enable")
        await self.resize(width, height)

    async def resize(self, width: int, height: int) -> None:
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def on_event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Page.loadEventFired":
            self._loaded.set()
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.problems.append(details.get("exception", {}).get("description") or str(details))
        elif method == "Runtime.consoleAPICalled" and params["type"] == "error":
            self.problems.append(" ".join(str(a.get("value", "")) for a in params["args"]))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            # a request the test expected to fail (a 401 after sign-out) is no problem
            if entry.get("source") != "network":
                self.problems.append(entry["text"])

    async def goto(self, url: str, timeout: float = 60) -> None:
        self._loaded.clear()
        navigation = await self.send("Page.navigate", url=url)
        if "errorText" in navigation:
            raise BrowserError(f"{url}: {navigation['errorText']}")
        if "loaderId" in navigation:  # none for a new #fragment of the same document
            await asyncio.wait_for(self._loaded.wait(), timeout)

    async def reload(self, timeout: float = 60) -> None:
        self._loaded.clear()
        await self.send("Page.reload", ignoreCache=True)
        await asyncio.wait_for(self._loaded.wait(), timeout)

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (awaited if it is a promise)."""
        result = await self.send(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 30, what: str = "") -> Any:
        """Poll until the expression is truthy; its value. On a busy machine pages are slow:
        the timeout is generous, and only reached on failure."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        # an element found is a yes (returned by value it would be an empty, falsy object)
        probe = f"(v => v instanceof Node ? true : v)({expression})"
        while True:
            try:
                value = await self.evaluate(probe)
            except BrowserError:
                value = None  # e.g. evaluated mid-navigation
            if value:
                return value
            if loop.time() > deadline:
                text = await self.evaluate("document.body ? document.body.innerText : ''")
                raise BrowserError(
                    f"timed out waiting for {what or expression}; the page shows:\n{text[:1500]}"
                )
            await asyncio.sleep(0.05)

    async def wait_for_selector(self, selector: str, timeout: float = 30) -> None:
        await self.wait_for(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " return !!e && e.getClientRects().length > 0; })()",
            timeout,
            what=f"{selector} to be shown",
        )

    async def text(self, selector: str) -> str:
        return str(
            await self.evaluate(
                f"(document.querySelector({json.dumps(selector)}) || {{}}).innerText || ''"
            )
        )

    async def _center(self, selector: str) -> tuple[float, float]:
        """Where to click the element: its center, once nothing covers it there (a page still
        laying itself out moves elements under the pointer)."""
        box = await self.wait_for(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " if (!e || !e.getClientRects().length) return null;"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " const x = r.x + r.width / 2, y = r.y + r.height / 2;"
            " return e.contains(document.elementFromPoint(x, y)) ? [x, y] : null; })()",
            what=f"{selector} to be clickable",
        )
        return float(box[0]), float(box[1])

    async def click(self, selector: str) -> None:
        x, y = await self._center(selector)
        for kind in ("mousePressed", "mouseReleased"):
            await self.send(
                "Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1
            )

    async def type(self, selector: str, text: str) -> None:
        """Click into the field, select what it holds and type over it."""
        await self.click(selector)
        await self.evaluate(f"document.querySelector({json.dumps(selector)}).select?.()")
        await self.send("Input.insertText", text=text)

    async def press(self, key: str, shift: bool = False) -> None:
        """A key: Enter or Tab (with Shift: backwards)."""
        codes = {"Enter": 13, "Tab": 9}
        params: dict[str, Any] = {
            "key": key,
            "code": key,
            "windowsVirtualKeyCode": codes[key],
            "modifiers": 8 if shift else 0,
        }
        if key == "Enter":
            params["text"] = "\r"
        await self.send("Input.dispatchKeyEvent", type="keyDown", **params)
        await self.send("Input.dispatchKeyEvent", type="keyUp", **params)

    async def cookies(self) -> list[dict[str, Any]]:
        """Every cookie of the page, HttpOnly ones too (which its scripts cannot read)."""
        found: list[dict[str, Any]] = (await self.send("Network.getCookies"))["cookies"]
        return found

    async def screenshot(self, path: Path, max_height: int = 2400) -> None:
        """The whole page (up to `max_height` CSS pixels) as a PNG at `path`."""
        await self.evaluate("window.scrollTo(0, 0)")
        metrics = await self.send("Page.getLayoutMetrics")
        width = metrics["cssLayoutViewport"]["clientWidth"]
        height = min(max_height, math.ceil(metrics["cssContentSize"]["height"]))
        shot = await self.send(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        )
        await asyncio.to_thread(_write, path, base64.b64decode(shot["data"]))


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
