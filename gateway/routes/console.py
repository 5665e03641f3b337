"""The operator console at /console: static files from the package (gateway/console), no
build step. The page holds no data and no secret: everything it shows it reads from the
documented admin API, signed in with a session cookie."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from aiohttp import web

from gateway.api import Route
from gateway.errors import ApiError

CONSOLE_PATH = "/console"
FOLDER = Path(__file__).resolve().parents[1] / "console"

# Scripts and styles only from here, none inline; no frames, no form posts elsewhere. Charts
# are SVG drawn by the scripts.
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none';"
    " form-action 'self'"
)

_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}
# A file name, never a path: nothing outside the folder can be named.
_ASSET = re.compile(r"[a-z0-9][a-z0-9-]*\.(js|css|svg)")


@cache
def _files() -> dict[str, bytes]:
    """The folder's files, read once: a name asked for that is not one of them is a 404, and
    nothing a request names is remembered or looked up on disk."""
    return {path.name: path.read_bytes() for path in FOLDER.iterdir() if path.is_file()}


def _file(name: str) -> bytes | None:
    return _files().get(name)


def _answer(name: str) -> web.Response:
    body = _file(name)
    if body is None:
        raise ApiError(404, f"no console file {name}")
    response = web.Response(body=body, content_type=_TYPES[Path(name).suffix])
    response.headers["Content-Security-Policy"] = CONSOLE_CSP
    return response


async def console_page(request: web.Request) -> web.Response:
    return _answer("index.html")


async def console_asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if not _ASSET.fullmatch(name):
        raise ApiError(404, f"no console file {name}")
    return _answer(name)


# Open to anyone, like the API's documentation: the files are the same for everyone.
ROUTES = (
    Route("GET", CONSOLE_PATH, console_page, access="public", head=True),
    Route("GET", f"{CONSOLE_PATH}/", console_page, access="public", head=True),
    Route("GET", f"{CONSOLE_PATH}/{{name}}", console_asset, access="public", head=True),
)
