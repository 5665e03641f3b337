"""A charger's partner view, derived from its Redis hash at read time."""

from shared.charger_view import charger_view
from shared.redis_keys import F
from shared.status import PartnerStatus as P

NOW = 1_700_000_000.0


def _fields(**extra: str) -> dict[str, str]:
    base = {
        F.REGISTERED: "1",
        F.PROTOCOL: "ocpp1.6",
        F.ONLINE: "1",
        F.NODE: "n1",
        F.SEEN: repr(NOW - 5),
        f"{F.RAW}1": "Charging",
        f"{F.TRANSACTION}1": "42",
        F.KWH: "3.5",
        F.KWH_TS: "2023-11-14T22:13:15Z",
    }
    return {**base, **extra}


def test_online_charging_charger() -> None:
    view = charger_view("CP1", _fields(), NOW, {"n1"}, grace=150)
    assert view.status is P.CHARGING
    assert view.online
    assert view.meter_kwh == 3.5
    assert [(c.connector_id, c.status, c.transaction_id) for c in view.connectors] == [
        (1, P.CHARGING, "42")
    ]


def test_node_that_died_means_offline_but_status_kept_within_grace() -> None:
    view = charger_view("CP1", _fields(), NOW, set(), grace=150)
    assert not view.online
    assert view.status is P.CHARGING


def test_silent_past_grace_is_unknown() -> None:
    view = charger_view("CP1", _fields(**{F.SEEN: repr(NOW - 151)}), NOW, {"n1"}, grace=150)
    assert view.status is P.UNKNOWN
    assert not view.online


def test_never_seen_is_unknown() -> None:
    view = charger_view("CP1", {F.REGISTERED: "1"}, NOW, {"n1"}, grace=150)
    assert view.status is P.UNKNOWN and not view.online and view.connectors == []


def test_decommissioned_is_removed_whatever_it_reports() -> None:
    view = charger_view("CP1", _fields(**{F.REMOVED: "1"}), NOW, {"n1"}, grace=150)
    assert view.status is P.REMOVED


def test_empty_transaction_field_means_none() -> None:
    view = charger_view(
        "CP1",
        _fields(**{f"{F.TRANSACTION}1": "", f"{F.RAW}1": "Available"}),
        NOW,
        {"n1"},
        grace=150,
    )
    assert view.connectors[0].transaction_id is None
    assert view.status is P.AVAILABLE
