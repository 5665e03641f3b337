"""Events on the Redis stream: what csms appends and the recorder and live feed read.

An entry holds one field, `e`, with the event as JSON. Every event has `type`, `cp` (charger
id) and `at` (epoch seconds when the csms received it); the rest depends on the type.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

FIELD: Final = "e"

STATUS: Final = "status"  # connector, ocpp_status, status, error_code, ts
METER: Final = "meter"  # connector, ts, transaction_id, samples: [[measurand, phase, value, unit]]
TX_START: Final = "tx_start"  # connector, transaction_id, id_tag, meter_start_wh, ts
TX_STOP: Final = "tx_stop"  # transaction_id, meter_stop_wh, reason, ts
CONNECTION: Final = "connection"  # online, node
COMMAND: Final = "command"  # command_id, partner_id, action, request, outcome, response


def encode(event: dict[str, Any]) -> dict[str, bytes]:
    return {FIELD: orjson.dumps(event)}


def decode(fields: dict[Any, Any]) -> dict[str, Any]:
    raw = fields.get(FIELD) or fields.get(FIELD.encode())
    if raw is None:
        raise TypeError("stream entry has no event field")
    event: dict[str, Any] = orjson.loads(raw)
    return event
