"""The one settings object for every process, read from `EVCS_` environment variables."""

from __future__ import annotations

import os
import socket
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BootPolicy = Literal["Accepted", "Pending", "Rejected"]
UnknownTokenPolicy = Literal["Accepted", "Invalid"]


def _default_node_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Settings(BaseSettings):
    """Settings shared by csms, gateway, recorder and simulators."""

    model_config = SettingsConfigDict(env_prefix="EVCS_", extra="ignore")

    # Storage. Unset URLs mean "the embedded servers under data_dir" (see shared.embedded).
    database_url: str | None = None
    redis_url: str | None = None
    data_dir: Path = Path(".evcs")
    redis_prefix: str = Field("evcs", pattern=r"^[A-Za-z0-9_.-]{1,32}$")
    # "auto" asks the server whether it runs a Redis Cluster; the URL may name any of its nodes
    # (or several, comma-separated: redis://h1:6379,h2:6379/0) either way.
    redis_mode: Literal["auto", "standalone", "cluster"] = "auto"
    stream_shards: int = Field(1, ge=1, le=256)
    # Answer a charger only once this many replicas hold its message (Redis WAIT), or the
    # timeout passed: 0 loses what a failover catches in flight, 1 costs a replica round
    # trip per batch (docs/reliability.md).
    redis_wait_replicas: int = Field(0, ge=0, le=8)
    # At most half of a Redis call's own timeout (10 s), which counts from when the batch was
    # queued: a WAIT longer than that would fail writes that went in.
    redis_wait_timeout_ms: int = Field(100, ge=1, le=5_000)
    # Acknowledged entries stay this long so the live feed can resume from Last-Event-ID.
    stream_retention_seconds: int = Field(600, ge=0)
    # The embedded Redis's fsync policy: "always" loses nothing on a machine crash, at a
    # throughput cost (docs/reliability.md). External Redis servers are configured on their own.
    embedded_redis_appendfsync: Literal["everysec", "always"] = "everysec"

    # processes: `evcs csms|gateway --workers N` runs N processes sharing one port (SO_REUSEPORT)
    workers: int = Field(1, ge=1, le=256)
    reuse_port: bool = False
    listen_backlog: int = Field(4096, ge=1)  # capped by the kernel's net.core.somaxconn

    # csms
    node_id: str = Field(default_factory=_default_node_id)
    csms_host: str = "127.0.0.1"
    csms_port: int = 9000
    charger_auth: bool = True
    boot_unknown: BootPolicy = "Rejected"
    # Answer to a token (RFID idTag / idToken) nobody registered: Invalid (1.6) / Unknown
    # (2.0.1), or Accepted. `evcs dev` sets Accepted unless the variable is set.
    authorize_unknown: UnknownTokenPolicy = "Invalid"
    # Answer ConcurrentTx to a registered token that already has a transaction running.
    authorize_concurrent_tx: bool = False
    heartbeat_interval: int = Field(60, ge=1)
    offline_grace: float = Field(150.0, gt=0)
    node_ttl: float = Field(15.0, gt=0)
    max_frame_bytes: int = Field(65_536, ge=1024)
    # Highest connector (1.6) or EVSE (2.0.1) id a charger may name; each id is state kept for it.
    max_connectors: int = Field(16, ge=1, le=1000)
    command_timeout: float = Field(10.0, gt=0)
    # Pending/Rejected boots are told to retry after this many seconds.
    boot_retry_interval: int = Field(300, ge=1)
    # WebSocket pings find dead peers: a connection silent for ping_interval is pinged, and no
    # pong within ping_timeout closes it.
    ping_interval: float = Field(30.0, gt=0)
    ping_timeout: float = Field(30.0, gt=0)
    # OCPP security profile: 1 ws + Basic, 2 wss + Basic, 3 wss + client certificate (mTLS).
    security_profile: Literal[1, 2, 3] = 1
    tls_cert_file: Path | None = None  # server certificate chain (PEM), profiles 2 and 3
    tls_key_file: Path | None = None
    tls_ca_file: Path | None = None  # CA that signs charger certificates, profile 3
    # With both: SignCertificate CSRs naming the charger are signed (CertificateSigned follows)
    # for csms_cert_days; without: they are Rejected.
    csms_ca_cert_file: Path | None = None
    csms_ca_key_file: Path | None = None
    csms_cert_days: int = Field(365, ge=1, le=3650)

    # gateway
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    admin_token: SecretStr | None = None
    # On SIGTERM: answer readiness 503 and close each connection after its answer for at least
    # this long, and on while requests keep coming (up to the max), so load balancers stop
    # sending before the listener closes
    shutdown_drain_seconds: float = Field(1.0, ge=0)
    shutdown_drain_max_seconds: float = Field(10.0, ge=0)
    rate_limit_minute: int = Field(100, ge=1)
    rate_limit_hour: int = Field(1000, ge=1)
    key_cache_seconds: float = Field(10.0, ge=0)
    # While Redis is down: False answers 503 (no request unmetered), True serves without limits.
    rate_limit_fail_open: bool = False
    # An Idempotency-Key's first outcome is replayed for this long.
    idempotency_seconds: int = Field(86_400, ge=60)
    # Browser origins allowed to call the API (comma-separated; "*" for any); empty = no CORS.
    cors_origins: str = ""
    # Behind a TLS-terminating proxy: trust its X-Forwarded-Proto (answers over https get HSTS).
    trust_forwarded_proto: bool = False
    # Behind a proxy: the client's address is the last X-Forwarded-For entry (it appends it).
    trust_forwarded_for: bool = False
    # An address with more failed authentications than this in a minute is refused (429).
    auth_failures_per_minute: int = Field(30, ge=1)
    # Concurrent GET /events streams a partner may hold, across all gateways.
    max_streams_per_partner: int = Field(10, ge=1)
    # How long an operator console session lasts from sign-in (then the admin token again).
    console_session_seconds: int = Field(28_800, ge=60, le=7 * 86_400)
    # How often each gateway re-sends stale local lists (a token they carry changed); also how
    # long a list stays stale before it goes, so a burst of changes is one update. 0: never.
    local_list_sync_seconds: float = Field(5.0, ge=0)

    # recorder
    recorder_batch: int = Field(5000, ge=1)  # entries per XREADGROUP and per PostgreSQL transaction
    # Daily history partitions (status_events, meter_values) older than this many days are
    # dropped; 0 keeps all history.
    history_retention_days: int = Field(0, ge=0)
    recorder_claim_idle_ms: int = Field(30_000, ge=100)

    # processes
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"
    # /metrics, /health, /health/ready of csms and recorder (the gateway has its own); unset: off
    ops_host: str = "127.0.0.1"
    ops_port: int | None = Field(None, ge=0, le=65535)

    @model_validator(mode="after")
    def _signing_ca_whole(self) -> Settings:
        if (self.csms_ca_cert_file is None) != (self.csms_ca_key_file is None):
            raise ValueError("EVCS_CSMS_CA_CERT_FILE and EVCS_CSMS_CA_KEY_FILE go together")
        return self

    def with_urls(self, database_url: str, redis_url: str) -> Settings:
        """A copy that points at concrete servers."""
        return self.model_copy(update={"database_url": database_url, "redis_url": redis_url})


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
