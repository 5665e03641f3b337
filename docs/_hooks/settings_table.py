"""Every EVCS_ setting as a Markdown table, from shared.settings.Settings itself: a setting
added to the code appears in the operator guide at the next build."""

from __future__ import annotations

import ast
import inspect
import json
import typing
from typing import Any

from openapi_markdown import escape_pipes  # type: ignore[import-not-found]

# What a setting means where its code says too little. A setting missing here is still listed,
# with the comment above it in shared/settings.py.
NOTES = {
    "database_url": "PostgreSQL URL (`postgresql://user:pass@host:5432/db`). Unset: the"
    " embedded PostgreSQL under `data_dir` (for `evcs dev`; `evcs csms`, `gateway` and"
    " `recorder` need one).",
    "redis_url": "Redis URL (`redis://host:6379/0`, `rediss://` for TLS, with"
    " `?ssl_ca_certs=/path/ca.pem` for a private CA): one server, or any"
    " node of a Redis Cluster (several comma-separated hosts help start while one is down);"
    " or `unix:///path/redis.sock?db=0` for a server on the same machine. Unset: the"
    " embedded server under `data_dir`.",
    "redis_mode": "`auto` asks the server whether it runs a Redis Cluster; `standalone` or"
    " `cluster` skip the question.",
    "redis_wait_replicas": "Answer a charger only once this many replicas hold its message"
    " (WAIT), or `redis_wait_timeout_ms` passed; 0: don't wait (see Reliability).",
    "redis_wait_timeout_ms": "Longest wait for the replicas (at most 5,000); after it the"
    " charger is answered anyway and `evcs_csms_unreplicated_writes_total` counts it.",
    "history_retention_days": "Daily history partitions older than this many days are dropped"
    " by the recorders; 0 keeps everything.",
    "data_dir": "Folder of the embedded servers' data and `evcs dev`'s `dev.env` and logs.",
    "redis_prefix": "Prefix of every Redis key: several installations (or test runs) can share"
    " one Redis.",
    "stream_shards": "Event stream shards (charger-hashed): one per Redis Cluster primary (each"
    " shard's key lands on a primary of its own); all processes must agree.",
    "node_id": "This csms node's id in the connection registry; unique per node (default"
    " host-pid).",
    "csms_host": "Address the csms node listens on.",
    "csms_port": "Port the csms node listens on (`ws(s)://host:port/ocpp/{chargerId}`).",
    "charger_auth": "Require HTTP Basic auth from chargers (id + password from"
    " `register-charger`). Off only for local development.",
    "boot_unknown": "Answer to a BootNotification from a charger that is not registered:"
    " Rejected (production), Pending or Accepted (development).",
    "shutdown_drain_max_seconds": "Longest drain on SIGTERM: after `shutdown_drain_seconds` the"
    " gateway keeps draining while requests still come (a load balancer that has not noticed"
    " yet), ending once none has come for half a second.",
    "authorize_unknown": "Answer to a token (RFID idTag / idToken) nobody registered: `Invalid`"
    " (1.6) / `Unknown` (2.0.1), the default of `evcs csms`, or `Accepted` (any card charges;"
    " `evcs dev`'s default). A token a remote start named is accepted on that charger either"
    " way. See Tokens and authorization.",
    "authorize_concurrent_tx": "Answer `ConcurrentTx` to a registered token that already has a"
    " transaction running on another charger (or on another connector of the same one).",
    "heartbeat_interval": "Heartbeat interval (s) told to chargers in the BootNotification answer.",
    "offline_grace": "Seconds without a message after which a charger shows `UNKNOWN`.",
    "node_ttl": "Seconds a csms node's registration lives without renewal; a dead node's"
    " chargers are re-routed after it.",
    "max_frame_bytes": "Largest OCPP WebSocket frame accepted.",
    "max_connectors": "Highest connector (1.6) or EVSE (2.0.1) id a charger may name; a CALL"
    " naming a higher (or negative) one gets `PropertyConstraintViolation` and stores nothing.",
    "command_timeout": "Seconds a command waits for the charger's answer before `504`.",
    "gateway_host": "Address the gateway listens on.",
    "gateway_port": "Port the gateway listens on.",
    "admin_token": "Token for the admin API (`Authorization: Bearer`). Unset: the admin API"
    " answers 403.",
    "rate_limit_minute": "Default requests per minute per partner (partners may have their own).",
    "rate_limit_hour": "Default requests per hour per partner.",
    "key_cache_seconds": "How long a gateway caches an API key lookup; revocations reach every"
    " gateway at once regardless (pub/sub).",
    "recorder_batch": "Most stream entries a recorder reads and writes in one COPY batch.",
    "recorder_claim_idle_ms": "A stream entry pending this long with a dead recorder is claimed"
    " by another.",
    "ping_interval": "Seconds a charger's WebSocket may stay silent before it is pinged; pings"
    " find dead peers.",
    "ping_timeout": "Seconds without a pong after which the connection is closed (and the"
    " charger shown offline).",
    "tls_key_file": "The server certificate's private key (PEM), profiles 2 and 3.",
    "ops_host": "Address of every process's `/metrics`, `/health` and `/health/ready`"
    " (the gateway also answers health on its API port; metrics only here).",
    "ops_port": "Port of those endpoints; unset: not served.",
    "log_level": "DEBUG, INFO, WARNING or ERROR.",
    "log_format": "`json` (one object per line, for log shippers) or `console`.",
}


def _comments() -> dict[str, str]:
    """The comment lines right above each field in the Settings class."""
    from shared import settings as module

    source = inspect.getsource(module.Settings)
    lines = source.splitlines()
    out: dict[str, str] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            above = []
            index = node.lineno - 2
            while index >= 0 and lines[index].strip().startswith("#"):
                above.insert(0, lines[index].strip().lstrip("#").strip())
                index -= 1
            trailing = lines[node.lineno - 1].split("  # ", 1)
            if len(trailing) == 2:
                above.append(trailing[1].strip())
            out[node.target.id] = " ".join(above)
    return out


def _type(annotation: Any) -> str:
    if typing.get_origin(annotation) is typing.Literal:
        return " | ".join(json.dumps(value) for value in typing.get_args(annotation))
    text = getattr(annotation, "__name__", None) or str(annotation)
    return text.replace("typing.", "").replace("pathlib.", "").replace("pydantic.types.", "")


def _default(field: Any) -> str:
    if field.default_factory is not None:
        return "computed"
    value = field.default
    if value is None:
        return "unset"
    if hasattr(value, "get_secret_value"):
        return "unset"
    return f"`{json.dumps(value) if not hasattr(value, '__fspath__') else str(value)}`"


def _bounds(field: Any) -> str:
    parts = []
    for item in field.metadata:
        for attr, label in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if getattr(item, attr, None) is not None:
                parts.append(f"{label} {getattr(item, attr)}")
        if getattr(item, "pattern", None):
            parts.append(f"pattern `{item.pattern}`")
    return ", ".join(parts)


def settings_table() -> str:
    from shared.settings import Settings

    prefix = Settings.model_config.get("env_prefix", "")
    comments = _comments()
    rows = ["| variable | type | default | meaning |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        meaning = field.description or NOTES.get(name) or comments.get(name, "")
        bounds = _bounds(field)
        if bounds:
            meaning = f"{meaning} ({bounds})" if meaning else bounds
        cell = escape_pipes(" ".join(meaning.split()))
        kind = escape_pipes(_type(field.annotation))
        rows.append(f"| `{prefix}{name.upper()}` | {kind} | {_default(field)} | {cell} |")
    return "\n".join(rows) + "\n"
