"""The soak's arithmetic: which unanswered commands a gateway kill explains, the figures per
fault kind, and when a run passes."""

from __future__ import annotations

from evcs.chaos.summary import Commands, Measured, Totals, cut_by_kill, fault_rows, render, spread


def test_a_command_in_flight_at_a_kill_was_cut() -> None:
    kills = [100.0]
    assert cut_by_kill(99.0, 100.5, kills, grace=1.0)  # in flight when it died
    assert cut_by_kill(100.4, 100.6, kills, grace=1.0)  # on a connection still being torn down
    assert not cut_by_kill(101.5, 102.0, kills, grace=1.0)  # well after: the gateway's fault
    assert not cut_by_kill(98.0, 99.0, kills, grace=1.0)  # before it
    assert not cut_by_kill(99.0, 100.5, [], grace=1.0)


def test_spread() -> None:
    assert spread([]) is None
    assert spread([3.0, 1.0, 2.0, 10.0]) == (1.0, 2.5, 10.0)


def test_rows_per_kind_in_order_of_appearance() -> None:
    faults = [
        Measured("csms-kill", 1.0, 0.2),
        Measured("link-drop", 3.0, 0.1),
        Measured("csms-kill", 3.0, 0.4),
        Measured("csms-kill", 2.0, None),
    ]
    assert fault_rows(faults) == [
        ("csms-kill", 3, "2.00", "0.20 / 0.30 / 0.40  (1 NEVER RECOVERED)"),
        ("link-drop", 1, "3.00", "0.10 / 0.10 / 0.10"),
    ]


def _totals(**changes: object) -> Totals:
    t = Totals(1.0, 42, "single Redis", {"ocpp1.6": 2, "ocpp2.0.1": 2}, acked=1000)
    t.faults = [Measured("csms-kill", 1.0, 0.2)]
    t.commands = Commands()
    t.commands.statuses.update({200: 90, 409: 5})
    t.commands.conflicts.update({"NOT_SUPPORTED": 3, "EVSE_OFFLINE": 2})
    t.commands.cut_by_kill = 2
    for name, value in changes.items():
        setattr(t, name, value)
    return t


def test_a_run_passes_only_without_loss_duplicates_silence_or_lasting_faults() -> None:
    assert _totals().passed
    assert not _totals(lost=1).passed
    assert not _totals(duplicates=1).passed
    assert not _totals(faults=[Measured("csms-kill", 1.0, None)]).passed
    assert not _totals(died=["recorder-1 (exit code 1): ..."]).passed
    silent = _totals()
    silent.commands.unanswered.append("at 3.0s, CP-1 on: ServerDisconnectedError() after 0.1s")
    assert not silent.passed


def test_the_summary_says_it_all() -> None:
    text = render(_totals())
    assert "seed 42" in text
    assert "2 OCPP 1.6 + 2 OCPP 2.0.1" in text
    assert "messages acknowledged: 1,000" in text
    assert "partner commands sent: 97" in text
    assert "answered: 95 (200: 90, 409: 5)" in text
    assert "409: NOT_SUPPORTED 3, EVSE_OFFLINE 2" in text
    assert "cut by a gateway kill: 2" in text
    assert "csms-kill" in text and "0.20 / 0.20 / 0.20" in text
    assert "result: PASS" in text
    assert "result: FAIL" in render(_totals(lost=3))
