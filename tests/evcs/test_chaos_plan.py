"""The soak's plan: a seed names a run, every kind comes round, the draws stay in range."""

from __future__ import annotations

import itertools
import random

import pytest

from evcs.chaos import plan


def _faults(seed: int, kinds: list[str], n: int) -> list[plan.Fault]:
    targets = {"csms-kill": 2, "primary-failover": 3}
    return list(itertools.islice(plan.schedule(random.Random(seed), kinds, targets), n))


def test_a_seed_names_the_same_faults() -> None:
    kinds = list(plan.STANDALONE)
    assert _faults(7, kinds, 40) == _faults(7, kinds, 40)
    assert _faults(7, kinds, 40) != _faults(8, kinds, 40)


def test_every_kind_once_per_round() -> None:
    kinds = list(plan.CLUSTER)
    faults = _faults(3, kinds, 5 * len(kinds))
    for n in range(5):
        round_ = faults[n * len(kinds) : (n + 1) * len(kinds)]
        assert sorted(f.kind for f in round_) == sorted(kinds)


def test_draws_stay_in_range() -> None:
    for fault in _faults(11, [*plan.STANDALONE, "primary-failover"], 400):
        assert plan.PAUSE_SECONDS[0] <= fault.pause <= plan.PAUSE_SECONDS[1]
        if fault.kind in plan.LINK_CUTS:
            assert plan.CUT_SECONDS[0] <= fault.seconds <= plan.CUT_SECONDS[1]
        else:
            assert fault.seconds == 0
        limit = {"csms-kill": 2, "primary-failover": 3}.get(fault.kind, 1)
        assert 0 <= fault.target < limit


def test_kinds_follow_the_topology() -> None:
    assert "link-drop" in plan.kinds_for(cluster=False)
    assert "primary-failover" not in plan.kinds_for(cluster=False)
    assert "primary-failover" in plan.kinds_for(cluster=True)
    assert not set(plan.LINK_CUTS) & set(plan.kinds_for(cluster=True))
    assert plan.kinds_for(False, ("csms-kill", "link-reset", "csms-kill")) == [
        "csms-kill",
        "link-reset",
    ]
    with pytest.raises(ValueError, match="link-drop"):
        plan.kinds_for(True, ("link-drop",))
    assert set(plan.STANDALONE) | set(plan.CLUSTER) == set(plan.KINDS)
