"""Per-message cost of schema validation on the hot messages: the `ocpp` library's jsonschema
validation against the csms's compiled validators (same official schemas), and the csms's
whole in-process handling of a frame (parse, validate, handler, answer) for scale.

    python -m bench.validation [--seconds 0.5]

In-process and CPU-only: no sockets, no Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from typing import Any

import orjson
from ocpp import messages

from csms import handlers_v16, handlers_v201
from csms.session import Context, Session
from shared import framing, ocpp_schemas
from shared.framing import CODES, OCPP16, OCPP201

TS = "2026-01-01T00:00:00Z"

HOT: list[tuple[str, str, dict[str, Any]]] = [
    (
        OCPP16,
        "StatusNotification",
        {"connectorId": 1, "errorCode": "NoError", "status": "Charging", "timestamp": TS},
    ),
    (
        OCPP16,
        "MeterValues",
        {
            "connectorId": 1,
            "transactionId": 17,
            "meterValue": [
                {
                    "timestamp": TS,
                    "sampledValue": [
                        {"value": "12345", "measurand": "Energy.Active.Import.Register"},
                        {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"},
                    ],
                }
            ],
        },
    ),
    (
        OCPP201,
        "StatusNotification",
        {"timestamp": TS, "connectorStatus": "Occupied", "evseId": 1, "connectorId": 1},
    ),
    (
        OCPP201,
        "MeterValues",
        {
            "evseId": 1,
            "meterValue": [
                {
                    "timestamp": TS,
                    "sampledValue": [
                        {"value": 12345.0, "measurand": "Energy.Active.Import.Register"},
                        {
                            "value": 7200.0,
                            "measurand": "Power.Active.Import",
                            "unitOfMeasure": {"unit": "W"},
                        },
                    ],
                }
            ],
        },
    ),
]


def per_call_us(fn: Callable[[], object], seconds: float) -> float:
    """Mean microseconds per call over about `seconds` of repetitions."""
    fn()  # warm caches (schema loading, compilation)
    n, batch, started = 0, 100, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(batch):
            fn()
        n += batch
    return (time.perf_counter() - started) / n * 1e6


def per_call_async_us(make: Callable[[], Any], seconds: float) -> float:
    async def run() -> float:
        await make()
        n, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            for _ in range(50):
                await make()
            n += 50
        return (time.perf_counter() - started) / n * 1e6

    return asyncio.run(run())


def _library_version(protocol: str) -> str:
    return "1.6" if protocol == OCPP16 else "2.0.1"


def _handling(protocol: str, action: str, payload: dict[str, Any]) -> Callable[[], object]:
    """The csms's CPU work for one frame: parse, validate, run the handler, encode the answer."""
    codes = CODES[protocol]
    handler = (handlers_v16.handlers(_no_ids) if protocol == OCPP16 else handlers_v201.handlers())[
        action
    ]
    check = ocpp_schemas.validator(protocol, action)
    assert check is not None
    session = Session("BENCH-1", protocol, "bench", "1/bench", True, True)
    data = orjson.dumps([2, "123456", action, payload])

    def handle() -> object:
        call = framing.parse(data, codes)
        assert isinstance(call, framing.Call)
        assert ocpp_schemas.check(check, call.payload, codes) is None
        now = time.time()
        outcome = handler(Context(session, now, 60, "Accepted"), call.payload)
        return framing.call_result(call.id, outcome.response)

    return handle


def _no_ids() -> int:
    return 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="per measurement")
    args = parser.parse_args()
    print(
        f"{'message':<28} {'ocpp lib (sync)':>16} {'ocpp lib (async)':>17} "
        f"{'compiled':>9} {'speed-up':>9} {'csms total':>11}"
    )
    for protocol, action, payload in HOT:
        version = _library_version(protocol)

        def library_sync(p: dict[str, Any] = payload, a: str = action, v: str = version) -> None:
            messages._validate_payload(messages.Call("1", a, p), v)

        def library_async(p: dict[str, Any] = payload, a: str = action, v: str = version) -> Any:
            # what ocpp.ChargePoint does per message: validation in the default executor
            return messages.validate_payload(messages.Call("1", a, p), v)

        compiled = ocpp_schemas.validator(protocol, action)
        assert compiled is not None

        def ours(p: dict[str, Any] = payload, check: Any = compiled) -> None:
            check(p)

        lib_us = per_call_us(library_sync, args.seconds)
        lib_async_us = per_call_async_us(library_async, args.seconds)
        our_us = per_call_us(ours, args.seconds)
        total_us = per_call_us(_handling(protocol, action, payload), args.seconds)
        name = f"{protocol[4:]} {action}"
        print(
            f"{name:<28} {lib_us:>13.1f} µs {lib_async_us:>14.1f} µs {our_us:>6.2f} µs "
            f"{lib_us / our_us:>8.0f}x {total_us:>8.1f} µs"
        )
    print(
        "\ncompiled = fastjsonschema on the same official schemas (shared/ocpp_schemas.py); "
        "csms total = parse + validate + handler + encode the answer, without I/O"
    )


if __name__ == "__main__":
    main()
