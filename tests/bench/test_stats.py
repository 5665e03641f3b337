"""Quantiles read from a cumulative histogram between two readings, as Prometheus reads them."""

from __future__ import annotations

import math

from bench.stats import bucket_quantile

INF = float("inf")


def test_a_quantile_is_interpolated_within_its_bucket() -> None:
    before = [(0.001, 0.0), (0.002, 0.0), (0.004, 0.0), (INF, 0.0)]
    after = [(0.001, 50.0), (0.002, 90.0), (0.004, 100.0), (INF, 100.0)]
    assert bucket_quantile(before, after, 0.5) == 0.001  # the 50th of 100 ends the first bucket
    assert math.isclose(bucket_quantile(before, after, 0.7), 0.0015)  # halfway into the second
    assert math.isclose(bucket_quantile(before, after, 0.99), 0.0038)  # 9 of its 10 in


def test_only_what_was_counted_between_the_readings_counts() -> None:
    before = [(0.001, 1000.0), (0.002, 1000.0), (INF, 1000.0)]
    after = [(0.001, 1000.0), (0.002, 1010.0), (INF, 1010.0)]
    assert math.isclose(bucket_quantile(before, after, 0.5), 0.0015)


def test_past_the_last_bound_the_bound_is_all_there_is_and_nothing_counted_is_nan() -> None:
    before = [(0.001, 0.0), (INF, 0.0)]
    assert bucket_quantile(before, [(0.001, 0.0), (INF, 5.0)], 0.5) == 0.001
    assert math.isnan(bucket_quantile(before, before, 0.5))


def test_readings_that_do_not_belong_together_give_nan() -> None:
    before = [(0.001, 10.0), (INF, 10.0)]
    assert math.isnan(bucket_quantile(before, [(0.001, 4.0), (INF, 12.0)], 0.5))  # restarted
    assert math.isnan(bucket_quantile(before, [(0.002, 20.0), (INF, 20.0)], 0.5))  # other buckets
    assert math.isnan(bucket_quantile(before, [(0.001, 20.0), (INF, 20.0)], 1.5))
