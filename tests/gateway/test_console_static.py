"""/console: the operator console's static files from the package, under a strict
Content-Security-Policy (no inline script or style), and nothing outside its folder."""

from __future__ import annotations

import re

from gateway.routes import console as routes_console
from gateway.routes.console import FOLDER
from tests.gateway.support import Gateway


async def test_the_page_and_every_file_it_loads_are_served_under_a_strict_csp(
    gw: Gateway,
) -> None:
    resp = await gw.client.get("/console")
    assert resp.status == 200 and resp.content_type == "text/html"
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "style-src 'self';" in csp
    assert "unsafe" not in csp and "frame-ancestors 'none'" in csp
    assert resp.headers["X-Frame-Options"] == "DENY"
    page = await resp.text()
    assert "<script>" not in page and " style=" not in page  # nothing inline
    # what the page loads (links within it are #fragments: the console's own pages)
    sources = [s for s in re.findall(r'(?:src|href)="([^"]+)"', page) if not s.startswith("#")]
    assert sources and all(s.startswith("/console/") for s in sources)
    for source in sources:
        asset = await gw.client.get(source)
        assert asset.status == 200, source
    assert (await gw.client.get("/console/")).status == 200


async def test_every_module_is_served_with_its_type(gw: Gateway) -> None:
    for path in sorted(FOLDER.glob("*.js")):
        resp = await gw.client.get(f"/console/{path.name}")
        assert resp.status == 200 and resp.content_type == "text/javascript", path.name
        # modules import one another by relative path, all from this one folder
        for imported in re.findall(r'from "([^"]+)"', await resp.text()):
            assert re.fullmatch(r"\./[a-z0-9-]+\.js", imported), (path.name, imported)
            assert (FOLDER / imported[2:]).is_file(), (path.name, imported)


async def test_nothing_else_is_served(gw: Gateway) -> None:
    for path in (
        "/console/../app.py",
        "/console/%2e%2e%2fapp.py",
        "/console/index.html",  # the page is /console itself
        "/console/missing.js",
        "/console/App.js",
        "/console/" + "a" * 300 + ".js",  # past a file name's length: not a storage error
    ):
        resp = await gw.client.get(path)
        assert resp.status == 404, path
    assert routes_console._files.cache_info().currsize == 1  # the folder, not what was asked
