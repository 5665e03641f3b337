"""What a new connection carries on from the charger's hash (Session.carry_over)."""

from __future__ import annotations

from csms.session import Session
from shared.redis_keys import F


def _session(protocol: str = "ocpp1.6") -> Session:
    return Session("CP", protocol, "n", "", boot_accepted=True, known=True)


def test_statuses_running_and_ended_transactions_are_carried_over() -> None:
    s = _session()
    s.carry_over(
        {
            F.PROTOCOL: "ocpp1.6",
            F.TX_VERSION: "3",
            f"{F.RAW}1": "Charging",
            f"{F.TRANSACTION}1": "7",
            f"{F.TX_TOKEN}1": "TAG",
            f"{F.TX_START}1": "said",
            F.ENDED: '["5", "6"]',
        }
    )
    assert s.raw_status == {1: "Charging"}
    assert s.transactions == {1: "7"} and s.tx_tokens == {1: "TAG"} and s.tx_starts == {1: "said"}
    assert s.ended == ("5", "6") and s.tx_version == "3"


def test_nothing_but_the_count_is_carried_over_from_another_protocol() -> None:
    s = _session("ocpp2.0.1")
    s.carry_over({F.PROTOCOL: "ocpp1.6", F.TX_VERSION: "1", f"{F.TRANSACTION}1": "7"})
    assert s.transactions == {} and s.tx_version == "1"


def test_a_transaction_the_hash_says_ended_is_not_running() -> None:
    """An older node's late write can put an ended transaction's fields back in the hash."""
    s = _session("ocpp2.0.1")
    s.carry_over(
        {
            F.PROTOCOL: "ocpp2.0.1",
            f"{F.TRANSACTION}1": "tx-a",
            f"{F.TX_TOKEN}1": "TAG",
            f"{F.TX_METER}1": "120.0",
            f"{F.TRANSACTION}2": "tx-b",
            F.ENDED: '["tx-a"]',
        }
    )
    assert s.transactions == {2: "tx-b"}
    assert s.tx_tokens == {} and s.last_wh == {}


def test_carrying_over_again_replaces_what_was_carried() -> None:
    s = _session()
    s.carry_over({F.PROTOCOL: "ocpp1.6", f"{F.TRANSACTION}1": "7", f"{F.RAW}1": "Charging"})
    s.carry_over({F.PROTOCOL: "ocpp1.6", f"{F.TRANSACTION}2": "8"})
    assert s.transactions == {2: "8"} and s.raw_status == {}
