"""Prometheus metrics of a csms node. Labels stay bounded: no charger ids."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter(
    "evcs_csms_messages_total", "OCPP CALLs handled from chargers", ["protocol", "action"]
)
CONNECTIONS = Gauge("evcs_csms_connections", "Open charger connections", ["protocol"])
COMMANDS = Counter("evcs_csms_commands_total", "Commands sent to chargers", ["action", "outcome"])
COMMAND_SECONDS = Histogram(
    "evcs_csms_command_seconds",
    "Time from command receipt to the charger's answer",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
HANDSHAKES_REFUSED = Counter("evcs_csms_handshakes_refused_total", "Refused handshakes", ["reason"])
REDIS_ERRORS = Counter(
    "evcs_csms_redis_errors_total", "Failed Redis write batches (their messages got InternalError)"
)
UNREPLICATED = Counter(
    "evcs_csms_unreplicated_writes_total",
    "Writes answered although WAIT saw fewer replicas than EVCS_REDIS_WAIT_REPLICAS in time",
)

_MESSAGE_COUNTERS: dict[tuple[str, str], Counter] = {}


def count_message(protocol: str, action: str) -> None:
    """One more stored CALL of this action (the labelled child is looked up once)."""
    counter = _MESSAGE_COUNTERS.get((protocol, action))
    if counter is None:
        counter = _MESSAGE_COUNTERS[(protocol, action)] = MESSAGES.labels(protocol, action)
    counter.inc()
