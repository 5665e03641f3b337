"""Metrics named by Prometheus conventions with bounded labels, a dashboard that only shows
metrics that exist, and JSON log lines with context and without secrets."""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

import csms.metrics
import gateway.observe
import recorder.app
from shared.logging import REDACTED, JsonFormatter, log_context

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "evcs.json"
DATASOURCES = ROOT / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
# Panels already ask for these; their owners are adding them. Each must vanish from this list
# once it exists (the test below fails then), so the list cannot go stale.
REQUESTED: dict[str, str] = {}
# Labels that would grow with the fleet.
UNBOUNDED_LABELS = {"charger", "charger_id", "chargerid", "cp", "id", "path", "request_id", "ip"}
# Exporters' metrics (redis_exporter, postgres_exporter) and Prometheus's own.
FOREIGN = re.compile(r"^(redis_|pg_|up$|haproxy_)")

assert csms.metrics and gateway.observe and recorder.app  # imported for their metrics


def _families() -> dict[str, Any]:
    return {m.name: m for m in REGISTRY.collect() if m.name.startswith("evcs_")}


def test_metric_names_follow_prometheus_conventions() -> None:
    families = _families()
    assert {"evcs_csms", "evcs_gateway", "evcs_recorder"} <= {
        "_".join(n.split("_")[:2]) for n in families
    }
    for name, family in families.items():
        assert re.fullmatch(r"evcs_[a-z]+_[a-z0-9_]+", name), name
        if family.type == "counter":
            # prometheus_client appends _total on exposition; the family name must not repeat it
            assert not name.endswith("_total"), name
            assert any(s.name == f"{name}_total" for s in family.samples) or not family.samples
        if family.type == "histogram":
            assert name.endswith(("_seconds", "_bytes")), f"{name}: histogram without a unit"
        if family.type == "gauge" and ("lag" in name or "time" in name):
            assert name.endswith("_seconds"), name


def test_metric_labels_are_bounded() -> None:
    for name, family in _families().items():
        for sample in family.samples:
            labels = {label.lower() for label in sample.labels} - {"le"}
            assert not labels & UNBOUNDED_LABELS, f"{name} has {labels & UNBOUNDED_LABELS}"


def _dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def test_dashboard_covers_what_an_operator_watches() -> None:
    titles = " | ".join(p["title"].lower() for p in _panels(_dashboard()))
    for topic in (
        "connected chargers",
        "messages/s",
        "command outcomes",
        "command latency",
        "requests/s by status",
        "requests/s by partner",
        "rate-limit rejections",
        "recorder lag",
        "redis and postgresql errors",
    ):
        assert topic in titles, topic


def test_dashboard_queries_only_metrics_that_exist() -> None:
    dashboard = _dashboard()
    uid = next(iter(_yaml_datasources()))
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    exposed = {sample.name for family in REGISTRY.collect() for sample in family.samples} | set(
        _families()
    )
    # histograms and counters with no observations yet still expose their family name
    exposed |= {
        f"{n}{part}"
        for n, f in _families().items()
        if f.type == "histogram"
        for part in ("_bucket", "_sum", "_count")
    }
    exposed |= {f"{n}_total" for n, f in _families().items() if f.type == "counter"}
    used: set[str] = set()
    for panel in _panels(dashboard):
        assert panel["datasource"]["uid"] == uid
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == uid
            expr = target["expr"]
            assert expr.count("(") == expr.count(")"), expr
            used |= set(re.findall(r"\b(evcs_[a-z0-9_]+)", expr))
    missing = {m for m in used if m not in exposed}
    assert missing == set(REQUESTED), f"unknown metrics in the dashboard: {missing}"


def _yaml_datasources() -> set[str]:
    import yaml

    config = yaml.safe_load(DATASOURCES.read_text())
    return {d["uid"] for d in config["datasources"]}


def _log_line(record_fn: Any) -> dict[str, Any]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("evcs.test.observability")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        record_fn(logger)
    finally:
        logger.removeHandler(handler)
    line: dict[str, Any] = json.loads(stream.getvalue().strip().splitlines()[-1])
    return line


def test_log_lines_carry_the_context_of_the_work_in_hand() -> None:
    def work(logger: logging.Logger) -> None:
        with log_context(request_id="r-1", partner_id="acme"):
            with log_context(charger_id="CP-1"):
                logger.info("command sent", extra={"action": "RemoteStartTransaction"})

    line = _log_line(work)
    assert line["msg"] == "command sent"
    assert line["level"] == "info"
    assert line["request_id"] == "r-1"
    assert line["partner_id"] == "acme"
    assert line["charger_id"] == "CP-1"
    assert line["action"] == "RemoteStartTransaction"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"])

    after = _log_line(lambda logger: logger.info("later"))
    assert "charger_id" not in after and "request_id" not in after


def test_log_lines_never_carry_secrets() -> None:
    def work(logger: logging.Logger) -> None:
        with log_context(Authorization="Basic Q1A6c2VjcmV0"):
            logger.warning(
                "login failed",
                extra={"password": "hunter2", "api_key": "evcs_live_abc", "charger_id": "CP-9"},
            )

    line = _log_line(work)
    assert line["password"] == line["api_key"] == line["Authorization"] == REDACTED
    assert line["charger_id"] == "CP-9"
    assert "hunter2" not in json.dumps(line) and "evcs_live_abc" not in json.dumps(line)
