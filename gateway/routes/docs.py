"""The API's documentation: the OpenAPI document and Swagger UI, with its assets served from
the swagger-ui-bundle package (never a CDN) under a strict Content-Security-Policy."""

from __future__ import annotations

import mimetypes
from functools import lru_cache
from pathlib import Path

from aiohttp import web

from gateway.api import Route
from gateway.errors import ApiError

OPENAPI_PATH = "/api/openapi.json"
DOCS_PATH = "/api/docs"
ASSETS_PATH = f"{DOCS_PATH}/assets"

DOCS_KEY = web.AppKey("openapi_document", bytes)

# Scripts only from here (the initializer is a file, not inline); Swagger UI sets inline
# styles, so styles may be inline, which cannot run code.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; connect-src 'self'; font-src 'self'; frame-ancestors 'none';"
    " base-uri 'none'; form-action 'none'"
)

_ASSETS = frozenset(
    {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "favicon-32x32.png",
        "favicon-16x16.png",
    }
)

_PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>EV charging partner API</title>
<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">
<link rel="icon" type="image/png" href="{ASSETS_PATH}/favicon-32x32.png" sizes="32x32">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>
<script src="{ASSETS_PATH}/swagger-ui-standalone-preset.js"></script>
<script src="{DOCS_PATH}/init.js"></script>
</body>
</html>
"""

_INIT = f"""window.onload = function () {{
  window.ui = SwaggerUIBundle({{
    url: "{OPENAPI_PATH}",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "BaseLayout"
  }});
}};
"""


def assets_folder() -> Path | None:
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        return None
    return Path(str(swagger_ui_path))


def set_document(app: web.Application, document: bytes) -> None:
    app[DOCS_KEY] = document


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=request.app[DOCS_KEY], content_type="application/json")


async def docs_page(request: web.Request) -> web.Response:
    response = web.Response(text=_PAGE, content_type="text/html")
    response.headers["Content-Security-Policy"] = DOCS_CSP
    return response


async def docs_init(request: web.Request) -> web.Response:
    return web.Response(text=_INIT, content_type="text/javascript")


@lru_cache(maxsize=len(_ASSETS))
def _asset(name: str) -> bytes | None:
    folder = assets_folder()
    if name not in _ASSETS or folder is None or not (folder / name).is_file():
        return None
    return (folder / name).read_bytes()


async def docs_asset(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    body = _asset(name) if name in _ASSETS else None
    if body is None:
        raise ApiError(404, f"no documentation asset {name}")
    response = web.Response(
        body=body, content_type=mimetypes.guess_type(name)[0] or "application/octet-stream"
    )
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


# Open to anyone, and not listed in the document they serve.
ROUTES = (
    Route("GET", OPENAPI_PATH, openapi_json, access="public", head=True),
    Route("GET", DOCS_PATH, docs_page, access="public", head=True),
    Route("GET", f"{DOCS_PATH}/init.js", docs_init, access="public", head=True),
    Route("GET", f"{ASSETS_PATH}/{{name}}", docs_asset, access="public", head=True),
)
