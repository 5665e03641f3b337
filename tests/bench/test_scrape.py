"""A histogram's buckets read from a process's metrics (the Prometheus text format)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from bench.scrape import parse_histogram


def test_a_histograms_buckets_are_read_by_label() -> None:
    registry = CollectorRegistry()
    h = Histogram("t_seconds", "t", ["stage"], buckets=(0.001, 0.01), registry=registry)
    h.labels("record").observe(0.0005)
    h.labels("record").observe(0.005)
    h.labels("send").observe(1.0)
    text = generate_latest(registry).decode()
    assert parse_histogram(text, "t_seconds", "stage") == {
        "record": [(0.001, 1.0), (0.01, 2.0), (float("inf"), 2.0)],
        "send": [(0.001, 0.0), (0.01, 0.0), (float("inf"), 1.0)],
    }
    assert parse_histogram(text, "other_seconds", "stage") == {}
