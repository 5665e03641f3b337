"""Protective answers: security headers on everything, CORS for configured browser origins,
gzip for large JSON answers."""

from __future__ import annotations

from aiohttp import hdrs, web

from gateway.state import SETTINGS

GZIP_MIN_BYTES = 1024
HSTS = "max-age=31536000; includeSubDomains"
API_CSP = "default-src 'none'; frame-ancestors 'none'"

CORS_ALLOWED_HEADERS = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "Last-Event-ID",
    "Prefer",
    "X-Actor",
    "X-Api-Key",
    "X-Request-Id",
)
CORS_EXPOSED_HEADERS = (
    "Idempotent-Replayed",
    "Location",
    "Preference-Applied",
    "RateLimit",
    "RateLimit-Policy",
    "Retry-After",
    "X-Request-Id",
)
CORS_MAX_AGE = "600"


def over_tls(request: web.Request, trust_forwarded_proto: bool) -> bool:
    if request.secure:
        return True
    return (
        trust_forwarded_proto
        and request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower() == "https"
    )


def source_address(request: web.Request) -> str:
    """The client's address: the peer's, or behind a trusted proxy (EVCS_TRUST_FORWARDED_FOR)
    the X-Forwarded-For entry that proxy appended (the last; earlier ones are the client's say)."""
    if request.app[SETTINGS].trust_forwarded_for:
        forwarded = request.headers.get("X-Forwarded-For", "").rsplit(",", 1)[-1].strip()
        if forwarded:
            return forwarded[:64]
    return request.remote or "unknown"


# Instead of aiohttp's "Python/3.x aiohttp/3.y": the stack and its version are no one's business.
SERVER = "evcs"

# On every answer.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": API_CSP,
    "Cache-Control": "no-store",
}


def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Before any answer goes out; a handler's own value (the docs page's CSP) wins."""
    headers = response.headers
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    headers[hdrs.SERVER] = SERVER  # aiohttp has set its own by now
    if over_tls(request, request.app[SETTINGS].trust_forwarded_proto):
        headers.setdefault("Strict-Transport-Security", HSTS)


def allowed_origins(setting: str) -> frozenset[str]:
    return frozenset(o.strip().rstrip("/") for o in setting.split(",") if o.strip())


def cors_origin(request: web.Request) -> str | None:
    """The value for Access-Control-Allow-Origin, or None if the origin is not allowed."""
    origin = request.headers.get(hdrs.ORIGIN)
    if not origin:
        return None
    allowed = allowed_origins(request.app[SETTINGS].cors_origins)
    if "*" in allowed:
        return "*"
    return origin if origin in allowed else None


def preflight(request: web.Request) -> web.Response | None:
    """The answer to a CORS preflight from an allowed origin, given before any key is asked
    for; None for every other request."""
    if (
        request.method == hdrs.METH_OPTIONS
        and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers
        and cors_origin(request) is not None
    ):
        methods = "GET, POST, PUT, PATCH, DELETE"
        return web.Response(
            status=204,
            headers={
                hdrs.ACCESS_CONTROL_ALLOW_METHODS: methods,
                hdrs.ACCESS_CONTROL_ALLOW_HEADERS: ", ".join(CORS_ALLOWED_HEADERS),
                hdrs.ACCESS_CONTROL_MAX_AGE: CORS_MAX_AGE,
            },
        )
    return None


def add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Before any answer goes out: the allowed origin may read it (errors included)."""
    if hdrs.ORIGIN not in request.headers:
        return
    origin = cors_origin(request)
    if origin is None:
        return
    response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
    response.headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = ", ".join(CORS_EXPOSED_HEADERS)
    if origin != "*":
        response.headers.add(hdrs.VARY, "Origin")


def compress_if_large(request: web.Request, response: web.StreamResponse) -> None:
    """Large JSON answers go gzipped to clients that accept it; streams never are."""
    if (
        type(response) is web.Response
        and isinstance(response.body, bytes)
        and len(response.body) >= GZIP_MIN_BYTES
        and "gzip" in request.headers.get(hdrs.ACCEPT_ENCODING, "").lower()
        and hdrs.CONTENT_ENCODING not in response.headers
    ):
        response.enable_compression(web.ContentCoding.gzip)
