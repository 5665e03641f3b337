"""Charging profiles: what a charger stores, and the composite schedule they make."""

from __future__ import annotations

from typing import Any

import pytest

from simulators.clock import iso
from simulators.smart_charging import DAY, Period, Profile, ProfileStore, profile_16, profile_201

T0 = 1_700_000_000.0  # the moment asked about in every composite below
HARDWARE_W = 22080.0  # 32 A on three phases of 230 V


def p16(
    profile_id: int,
    purpose: str,
    periods: list[tuple[int, float]] | list[tuple[int, float, int]],
    level: int = 0,
    kind: str = "Relative",
    unit: str = "A",
    **extra: Any,
) -> dict[str, Any]:
    schedule: dict[str, Any] = {
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": [
            {"startPeriod": p[0], "limit": p[1], **({"numberPhases": p[2]} if len(p) > 2 else {})}
            for p in periods
        ],
    }
    for key in ("duration", "startSchedule"):
        if key in extra:
            schedule[key] = extra.pop(key)
    return {
        "chargingProfileId": profile_id,
        "stackLevel": level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": kind,
        "chargingSchedule": schedule,
        **extra,
    }


def store_with(
    *profiles: tuple[int, dict[str, Any]], running: dict[int, object] | None = None
) -> ProfileStore:
    store = ProfileStore(connectors=2)
    for connector, payload in profiles:
        assert store.install(profile_16(payload, connector, T0), running or {}) == "Accepted", (
            payload
        )
    return store


def schedule(
    store: ProfileStore,
    connector: int = 1,
    duration: int = 3600,
    unit: str | None = "A",
    tx_start: float | None = None,
) -> list[tuple[int, float]] | None:
    found = store.composite(connector, T0, duration, unit, tx_start, HARDWARE_W)
    return None if found is None else [(p.start, round(p.limit, 3)) for p in found[1]]


def test_without_profiles_there_is_no_composite_schedule() -> None:
    assert schedule(ProfileStore(connectors=1)) is None


def test_a_relative_default_starts_at_the_transaction_or_now() -> None:
    store = store_with((1, p16(1, "TxDefaultProfile", [(0, 16.0), (600, 10.0)])))

    assert schedule(store) == [(0, 16.0), (600, 10.0)]
    # a session started 500 s ago: 100 s left at 16 A
    assert schedule(store, tx_start=T0 - 500) == [(0, 16.0), (100, 10.0)]


def test_an_absolute_schedule_runs_from_its_start_for_its_duration() -> None:
    absolute = p16(
        1,
        "TxDefaultProfile",
        [(0, 16.0), (300, 12.0)],
        kind="Absolute",
        startSchedule=iso(T0 - 100),
        duration=1000,
    )

    # after its 1000 s the charger's own maximum applies again
    assert schedule(store_with((1, absolute))) == [(0, 16.0), (200, 12.0), (900, 32.0)]


def test_the_highest_stack_level_wins_while_it_lasts() -> None:
    low = p16(1, "TxDefaultProfile", [(0, 16.0)], level=0)
    high = p16(2, "TxDefaultProfile", [(0, 6.0)], level=3, duration=120)

    assert schedule(store_with((1, low), (1, high))) == [(0, 6.0), (120, 16.0)]


def test_a_connector_s_default_goes_before_the_charger_wide_one() -> None:
    everywhere = p16(1, "TxDefaultProfile", [(0, 16.0)])
    here = p16(2, "TxDefaultProfile", [(0, 10.0)])

    store = store_with((0, everywhere), (1, here))

    assert schedule(store, connector=1) == [(0, 10.0)]
    assert schedule(store, connector=2) == [(0, 16.0)]


def test_a_tx_profile_overrides_the_default_and_the_maximum_caps_both() -> None:
    store = store_with(
        (0, p16(1, "ChargePointMaxProfile", [(0, 20.0)])),
        (1, p16(2, "TxDefaultProfile", [(0, 16.0)])),
        (1, p16(3, "TxProfile", [(0, 25.0), (60, 8.0)])),
        running={1: 42},
    )

    assert schedule(store) == [(0, 20.0), (60, 8.0)]


def test_a_daily_recurring_schedule_repeats() -> None:
    midnight = T0 - (T0 % DAY)
    daily = p16(
        1,
        "TxDefaultProfile",
        [(0, 10.0), (int(T0 - midnight) + 600, 20.0)],
        kind="Recurring",
        recurrencyKind="Daily",
        startSchedule=iso(midnight),
    )

    got = schedule(store_with((1, daily)), duration=int(DAY))

    next_midnight = int(midnight + DAY - T0)
    assert got == [(0, 10.0), (600, 20.0), (next_midnight, 10.0)]


def test_validity_dates_bound_a_profile() -> None:
    bounded = p16(1, "TxDefaultProfile", [(0, 10.0)], validFrom=iso(T0 + 60), validTo=iso(T0 + 120))

    assert schedule(store_with((1, bounded))) == [(0, 32.0), (60, 10.0), (120, 32.0)]


def test_limits_convert_between_amperes_and_watts() -> None:
    store = store_with(
        (1, p16(1, "TxDefaultProfile", [(0, 16.0, 1), (60, 16.0)])),
        (0, p16(2, "ChargePointMaxProfile", [(0, 9000.0)], unit="W")),
    )

    watts = store.composite(1, T0, 120, "W", None, HARDWARE_W)
    assert watts is not None
    assert watts == ("W", [Period(0, 16.0 * 230, 1), Period(60, 9000.0)])
    # without a unit asked for, the unit of the first profile that applies
    found = store.composite(1, T0, 120, None, None, HARDWARE_W)
    assert found is not None and found[0] == "W"


@pytest.mark.parametrize(
    ("connector", "payload", "running"),
    [
        (3, p16(1, "TxDefaultProfile", [(0, 16.0)]), {}),  # no such connector
        (1, p16(1, "ChargePointMaxProfile", [(0, 16.0)]), {}),  # the maximum is for connector 0
        (1, p16(1, "TxProfile", [(0, 16.0)]), {}),  # no transaction
        (0, p16(1, "TxProfile", [(0, 16.0)]), {0: 1}),  # a transaction is on a connector
        (1, p16(1, "TxProfile", [(0, 16.0)], transactionId=7), {1: 42}),  # not that one
        (1, p16(1, "TxDefaultProfile", [(0, 16.0)], level=11), {}),  # above the max stack level
        (1, p16(1, "TxDefaultProfile", [(10, 16.0)]), {}),  # the first period starts at 0
        (1, p16(1, "TxDefaultProfile", [(0, 16.0), (0, 8.0)]), {}),  # periods in order
        (1, p16(1, "TxDefaultProfile", [(n, 16.0) for n in range(25)]), {}),  # too many periods
    ],
)
def test_profiles_that_do_not_belong_are_rejected(
    connector: int, payload: dict[str, Any], running: dict[int, object]
) -> None:
    store = ProfileStore(connectors=2)

    assert store.install(profile_16(payload, connector, T0), running) == "Rejected"
    assert store.profiles == []


def test_the_same_id_or_the_same_level_and_purpose_replaces_a_profile() -> None:
    store = store_with(
        (1, p16(1, "TxDefaultProfile", [(0, 16.0)])),
        (1, p16(2, "TxDefaultProfile", [(0, 16.0)], level=1)),
    )

    store.install(profile_16(p16(1, "TxDefaultProfile", [(0, 8.0)], level=5), 2, T0), {})
    store.install(profile_16(p16(3, "TxDefaultProfile", [(0, 8.0)], level=1), 1, T0), {})

    assert sorted((p.id, p.connector, p.stack_level) for p in store.profiles) == [
        (1, 2, 5),
        (3, 1, 1),
    ]


def test_a_full_store_rejects_another_profile() -> None:
    store = ProfileStore(connectors=1, max_profiles=2)
    for n in range(2):
        store.install(profile_16(p16(n, "TxDefaultProfile", [(0, 16.0)], level=n), 1, T0), {})

    assert (
        store.install(profile_16(p16(9, "TxDefaultProfile", [(0, 1.0)], level=9), 1, T0), {})
        == "Rejected"
    )


def test_clear_removes_what_matches_every_criterion_given() -> None:
    store = store_with(
        (0, p16(1, "ChargePointMaxProfile", [(0, 20.0)])),
        (1, p16(2, "TxDefaultProfile", [(0, 16.0)])),
        (2, p16(3, "TxDefaultProfile", [(0, 16.0)], level=2)),
    )

    assert store.clear(connector=1, purpose="ChargePointMaxProfile") is False
    assert store.clear(purpose="TxDefaultProfile", stack_level=2) is True
    assert [p.id for p in store.profiles] == [1, 2]
    assert store.clear() is True
    assert store.profiles == []


def test_a_tx_profile_ends_with_its_transaction() -> None:
    store = store_with(
        (1, p16(1, "TxProfile", [(0, 16.0)])),
        (1, p16(2, "TxDefaultProfile", [(0, 16.0)])),
        running={1: None},
    )

    store.end_transaction(1)

    assert [p.id for p in store.profiles] == [2]


def test_select_by_the_criteria_of_get_charging_profiles() -> None:
    store = ProfileStore(connectors=2)
    payload = {
        "id": 5,
        "stackLevel": 1,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": [
            {
                "id": 1,
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7000}],
            }
        ],
    }
    store.install(profile_201(payload, 2, T0), {}, need_tx_id=True)

    def ids(**criteria: Any) -> list[int]:
        args: dict[str, Any] = {
            "connector": None,
            "purpose": None,
            "stack_level": None,
            "ids": None,
            "sources": None,
        }
        return [p.id for p in store.select(**{**args, **criteria})]

    assert ids() == [5]
    assert ids(
        connector=2, purpose="TxDefaultProfile", stack_level=1, ids=[5, 6], sources=["CSO"]
    ) == [5]
    assert (
        ids(connector=1) == ids(purpose="TxProfile") == ids(ids=[6]) == ids(sources=["EMS"]) == []
    )
    assert store.profiles[0].raw is payload


def test_2_0_1_does_not_take_external_constraints_nor_an_anonymous_tx_profile() -> None:
    store = ProfileStore(connectors=1)

    def make(purpose: str, **extra: Any) -> Profile:
        payload = {
            "id": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": purpose,
            "chargingProfileKind": "Relative",
            "chargingSchedule": [
                {
                    "id": 1,
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6}],
                }
            ],
            **extra,
        }
        return profile_201(payload, 0 if purpose != "TxProfile" else 1, T0)

    assert store.install(make("ChargingStationExternalConstraints"), {}) == "Rejected"
    assert store.install(make("TxProfile"), {1: "tx"}, need_tx_id=True) == "Rejected"
    assert (
        store.install(make("TxProfile", transactionId="tx"), {1: "tx"}, need_tx_id=True)
        == "Accepted"
    )
