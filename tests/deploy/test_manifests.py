"""What can be checked of the deployment without Docker or a cluster: the compose file against
the Compose specification, the manifests against the Kubernetes schemas, the HAProxy, Prometheus
and Grafana configuration by loading them, and that they agree with each other and the code."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s" / "base"
K8S_VERSION = "1.30.0"
# The Compose specification's JSON schema, as shipped in the docker-compose 1.29.2 package
# (compose/config/compose_spec.json, Apache-2.0).
COMPOSE_SCHEMA = Path(__file__).with_name("compose_spec.json")
EVCS_ROLES = {"csms-1", "csms-2", "gateway-1", "gateway-2", "recorder"}


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _compose_errors(doc: Any) -> list[str]:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    validator = jsonschema.Draft201909Validator(schema)
    return [f"{e.json_path}: {e.message}" for e in validator.iter_errors(doc)]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc: dict[str, Any] = _yaml(ROOT / "docker-compose.yml")
    return doc


def test_compose_files_follow_the_compose_specification(compose: dict[str, Any]) -> None:
    assert _compose_errors(compose) == []
    assert _compose_errors(_yaml(DEPLOY / "compose.tls.yml")) == []
    assert _compose_errors(_yaml(DEPLOY / "compose.no-loss.yml")) == []
    broken = {**compose, "services": {**compose["services"], "redis": {"comand": "x"}}}
    assert _compose_errors(broken)  # the schema does catch a misspelt key


def test_the_no_loss_profile_changes_only_when_redis_fsyncs(compose: dict[str, Any]) -> None:
    default = compose["services"]["redis"]["command"]
    no_loss = _yaml(DEPLOY / "compose.no-loss.yml")["services"]["redis"]["command"]
    at = default.index("--appendfsync")
    assert default[at + 1] == "everysec" and no_loss[at + 1] == "always"
    assert no_loss[:at] + no_loss[at + 2 :] == default[:at] + default[at + 2 :]


def test_compose_runs_every_role_from_one_image(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "lb", "prometheus", "grafana"} | EVCS_ROLES <= set(
        services
    )
    for name in EVCS_ROLES | {"migrate"}:
        service = services[name]
        assert service["image"] == "evcs:latest"
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert service["command"][0] in {"csms", "gateway", "recorder", "migrate"}
    for name in EVCS_ROLES:
        service = services[name]
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert service["healthcheck"]["test"][0] == "CMD"
        assert "/health/ready" in service["healthcheck"]["test"][-1]
    assert services["migrate"]["restart"] == "no"
    assert (
        services["csms-1"]["environment"]["EVCS_NODE_ID"]
        != services["csms-2"]["environment"]["EVCS_NODE_ID"]
    )


def test_compose_redis_keeps_an_append_only_file(compose: dict[str, Any]) -> None:
    command = compose["services"]["redis"]["command"]
    options = dict(zip(command[1::2], command[2::2], strict=True))
    assert options["--appendonly"] == "yes"
    assert options["--appendfsync"] in {"everysec", "always"}
    assert options["--maxmemory-policy"] == "noeviction"  # evicting the stream would lose events
    assert any(v.endswith(":/data") for v in compose["services"]["redis"]["volumes"])


def test_compose_mounts_exist(compose: dict[str, Any]) -> None:
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source


def test_dockerfile_is_multi_stage_non_root_and_copies_every_package() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+\S+\s+AS\s+(\w+)", text, re.M)
    assert len(stages) >= 2
    runtime = text.split("AS runtime", 1)[1]
    assert "build-essential" not in runtime
    user = re.findall(r"^USER\s+(\S+)", runtime, re.M)
    assert user and not user[-1].startswith(("root", "0"))
    assert re.search(r'^ENTRYPOINT \["evcs"\]', runtime, re.M)
    pyproject = (ROOT / "pyproject.toml").read_text()
    packages = re.search(r"include = \[(.*?)\]", pyproject)
    assert packages is not None
    for pattern in re.findall(r'"(\w+)\*"', packages.group(1)):
        assert re.search(rf"^COPY {pattern} {pattern}$", text, re.M), pattern
        assert f"!{pattern}/" in (DEPLOY / "Dockerfile.dockerignore").read_text()


def _k8s_documents() -> list[dict[str, Any]]:
    kustomization = _yaml(K8S / "kustomization.yaml")
    docs: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        docs.extend(d for d in yaml.safe_load_all((K8S / resource).read_text()) if d)
    return docs


def test_kubernetes_manifests_follow_the_kubernetes_schemas() -> None:
    docs = _k8s_documents()
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    listed = set(_yaml(K8S / "kustomization.yaml")["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}


def test_kubernetes_probes_resources_and_disruption_budgets() -> None:
    docs = _k8s_documents()
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert set(deployments) == {"csms", "gateway", "recorder"}
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]
        assert pod["metadata"]["labels"] == deployment["spec"]["selector"]["matchLabels"]
        (container,) = pod["spec"]["containers"]
        ports = {p["name"] for p in container["ports"]}
        assert container["livenessProbe"]["httpGet"]["path"].endswith("/health"), name
        assert container["readinessProbe"]["httpGet"]["path"].endswith("/health/ready"), name
        for probe in ("livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"]["port"] in ports
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    budgets = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    assert {b["metadata"]["name"] for b in budgets} == set(deployments)
    for budget in budgets:
        target = deployments[budget["metadata"]["name"]]
        assert (
            budget["spec"]["selector"]["matchLabels"] == target["spec"]["selector"]["matchLabels"]
        )


def test_kubernetes_csms_service_suits_long_lived_websockets() -> None:
    docs = _k8s_documents()
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    csms = services["csms"]["spec"]
    assert csms["type"] == "LoadBalancer"  # L4: no HTTP idle timeout in the path
    assert csms["sessionAffinity"] == "None"
    assert [p["protocol"] for p in csms["ports"]] == ["TCP"]
    deployment = next(
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "csms"
    )
    pod = deployment["spec"]["template"]["spec"]
    assert csms["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert {p["targetPort"] for p in csms["ports"]} <= {
        p["name"] for p in pod["containers"][0]["ports"]
    }
    assert pod["terminationGracePeriodSeconds"] >= 30
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["EVCS_NODE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_prometheus_scrapes_every_process(compose: dict[str, Any]) -> None:
    config = _yaml(DEPLOY / "prometheus" / "prometheus.yml")
    targets = {
        job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
        for job in config["scrape_configs"]
    }
    hosts = {t.split(":")[0] for ts in targets.values() for t in ts} - {"localhost"}
    assert hosts <= set(compose["services"])
    assert EVCS_ROLES <= hosts
    # metrics on the ops port of every role, never on the public API port
    assert {
        t.split(":")[1] for t in targets["csms"] + targets["recorder"] + targets["gateway"]
    } == {"9100"}
    assert compose["services"]["prometheus"]["volumes"][0].startswith(
        "./deploy/prometheus/prometheus.yml:"
    )


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")
def test_haproxy_accepts_its_configuration_with_and_without_tls(tmp_path: Path) -> None:
    cfg = DEPLOY / "haproxy" / "haproxy.cfg"
    check = subprocess.run(
        ["haproxy", "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30
    )
    assert check.returncode == 0, check.stderr
    if shutil.which("openssl") is None:
        return
    pem = tmp_path / "evcs.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=localhost", "-keyout", str(pem), "-out", str(tmp_path / "crt")),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    pem.write_text(pem.read_text() + (tmp_path / "crt").read_text())
    tls = tmp_path / "tls.cfg"
    tls.write_text(
        (DEPLOY / "haproxy" / "tls.cfg")
        .read_text()
        .replace("/usr/local/etc/haproxy/certs/evcs.pem", str(pem))
    )
    check = subprocess.run(
        ["haproxy", "-c", "-f", str(cfg), "-f", str(tls)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.returncode == 0, check.stderr
