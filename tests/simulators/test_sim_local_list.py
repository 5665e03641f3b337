"""The local authorization list: versions, full and differential updates, and when a charger may
take its word."""

from __future__ import annotations

import pytest

from simulators.clock import iso
from simulators.local_list import LocalAuthList, locally_authorized

ACCEPTED = {"status": "Accepted"}


def make() -> LocalAuthList[str]:
    return LocalAuthList(max_entries=3, max_per_message=2)


def test_a_new_list_is_empty_at_version_zero() -> None:
    local = make()

    assert (local.version, local.entries) == (0, {})
    assert local.status("A", 0.0, "expiryDate") is None


def test_full_replaces_and_differential_adds_changes_and_removes() -> None:
    local = make()
    assert local.update("Full", 1, [("A", ACCEPTED), ("B", ACCEPTED)]) == "Accepted"

    blocked = {"status": "Blocked"}
    assert local.update("Differential", 2, [("A", blocked), ("B", None)]) == "Accepted"
    assert (local.version, local.entries) == (2, {"A": blocked})

    assert local.update("Full", 3, [("C", ACCEPTED)]) == "Accepted"
    assert (local.version, local.entries) == (3, {"C": ACCEPTED})


@pytest.mark.parametrize("version", [1, 2])
def test_a_differential_update_must_be_newer(version: int) -> None:
    local = make()
    local.update("Full", 2, [("A", ACCEPTED)])

    assert local.update("Differential", version, [("B", ACCEPTED)]) == "VersionMismatch"
    assert (local.version, set(local.entries)) == (2, {"A"})


def test_a_full_update_may_go_back_in_version() -> None:
    local = make()
    local.update("Full", 5, [("A", ACCEPTED)])

    assert local.update("Full", 1, []) == "Accepted"
    assert (local.version, local.entries) == (1, {})


@pytest.mark.parametrize(
    ("update", "changes"),
    [
        ("Full", [("A", ACCEPTED), ("B", ACCEPTED), ("C", ACCEPTED)]),  # more than per message
        ("Full", [("A", None)]),  # a full list without the info of an identifier
        ("Differential", [("C", ACCEPTED), ("D", ACCEPTED)]),  # more than the list holds
    ],
)
def test_an_update_that_cannot_be_applied_fails_and_changes_nothing(
    update: str, changes: list[tuple[str, dict[str, str] | None]]
) -> None:
    local = make()
    local.update("Full", 1, [("A", ACCEPTED), ("B", ACCEPTED)])

    assert local.update(update, 2, changes) == "Failed"
    assert (local.version, set(local.entries)) == (1, {"A", "B"})


def test_an_entry_past_its_expiry_date_is_expired() -> None:
    local = make()
    local.update(
        "Full",
        1,
        [
            ("OLD", {"status": "Accepted", "expiryDate": iso(1000.0)}),
            ("NEW", {"status": "Accepted", "expiryDate": iso(3000.0)}),
        ],
    )

    assert local.status("OLD", 2000.0, "expiryDate") == "Expired"
    assert local.status("NEW", 2000.0, "expiryDate") == "Accepted"


@pytest.mark.parametrize(
    ("status", "online", "pre_authorize", "offline", "expected"),
    [
        (None, True, True, True, False),  # not on the list: ask
        ("Accepted", True, False, True, False),  # online, the central system is asked
        ("Accepted", True, True, False, True),  # ... unless LocalPreAuthorize
        ("Blocked", True, True, True, False),  # ... and only for an accepted identifier
        ("Blocked", False, False, True, True),  # offline: the list has the last word
        ("Accepted", False, True, False, False),  # ... with LocalAuthorizeOffline only
    ],
)
def test_when_the_local_list_is_enough(
    status: str | None, online: bool, pre_authorize: bool, offline: bool, expected: bool
) -> None:
    assert locally_authorized(status, online, pre_authorize, offline) is expected
