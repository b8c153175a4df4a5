"""The deployment examples say what the issue promises (issue 12 items 4 and 6): valid YAML, replicas that
serve and never migrate, a migration step of their own, readiness on /readyz, a non-root image built from
the hash-checked lock without the mock or the tests, and locks that cover every declared dependency."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def _documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def test_every_yaml_file_under_deploy_parses() -> None:
    files = sorted([*DEPLOY.rglob("*.yml"), *DEPLOY.rglob("*.yaml")])
    assert len(files) >= 12
    for path in files:
        assert _documents(path), path
    json.loads((DEPLOY / "grafana" / "vneid-broker.json").read_text(encoding="utf-8"))


def test_compose_runs_the_migration_once_before_two_replicas_that_only_serve() -> None:
    compose = _documents(DEPLOY / "compose.yaml")[0]
    services = compose["services"]
    assert {
        "postgres",
        "migrate",
        "broker-1",
        "broker-2",
        "proxy",
        "prometheus",
        "grafana",
    } <= services.keys()
    assert services["migrate"]["command"] == ["broker", "db", "upgrade"]
    for replica in ("broker-1", "broker-2"):
        service = services[replica]
        assert "command" not in service  # the image's CMD: serve only
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "/readyz" in " ".join(service["healthcheck"]["test"])
        assert service["environment"]["BROKER_DATABASE_URL"].startswith("postgresql+asyncpg://")
    scrape = _documents(DEPLOY / "prometheus" / "prometheus.yml")[0]
    assert scrape["scrape_configs"][0]["static_configs"][0]["targets"] == ["broker-1:8000", "broker-2:8000"]
    proxy = (DEPLOY / "proxy" / "nginx.conf").read_text(encoding="utf-8")
    assert "$request " not in proxy and "combined" not in proxy  # no query strings in the proxy's log


def test_kubernetes_manifests() -> None:
    documents = {
        doc["kind"]: doc for path in (DEPLOY / "kubernetes").glob("*.yaml") for doc in _documents(path)
    }
    assert {"Deployment", "Job", "Secret", "PodDisruptionBudget", "Service", "ConfigMap"} <= documents.keys()
    pod = documents["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "command" not in container and "args" not in container
    assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
    assert pod["securityContext"]["runAsNonRoot"] is True
    job = documents["Job"]["spec"]["template"]["spec"]["containers"][0]
    assert job["command"] == ["broker", "db", "upgrade"]
    assert documents["PodDisruptionBudget"]["spec"]["minAvailable"] == 1
    assert documents["Deployment"]["spec"]["replicas"] >= 2


def test_the_dockerfile_is_multi_stage_non_root_from_the_lock_and_serves_only() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    instructions = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert len([line for line in instructions if line.startswith("FROM ")]) == 2
    assert "--require-hashes" in text and "requirements.lock" in text
    assert " -e " not in text and "--editable" not in text
    copied = " ".join(line for line in instructions if line.startswith("COPY "))
    assert "mock_vneid" not in copied and "tests" not in copied
    final = text[text.rindex("FROM ") :]
    user = re.search(r"^USER (\S+)", final, re.M)
    assert user and not user.group(1).startswith(("root", "0"))
    cmd = re.search(r"^CMD (.+)$", final, re.M)
    assert cmd and json.loads(cmd.group(1))[:2] == ["broker", "serve"]
    assert "db upgrade" not in final


def _pinned(lock: Path) -> set[str]:
    text = lock.read_text(encoding="utf-8")
    names = re.findall(r"^([A-Za-z0-9_.\-]+)==\S+ \\\n\s+--hash=sha256:", text, re.M)
    requirements = re.findall(r"^([A-Za-z0-9_.\-]+)==", text, re.M)
    assert names == requirements, "every pinned requirement carries hashes"
    return {name.lower().replace("_", "-") for name in names}


def _declared(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=\[;! ]", item, maxsplit=1)[0].lower().replace("_", "-") for item in requirements}


def test_the_locks_pin_every_declared_dependency_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = _declared(project["dependencies"])
    dev = _declared(project["optional-dependencies"]["dev"])
    assert runtime <= _pinned(ROOT / "requirements.lock"), "run `make lock` after changing pyproject.toml"
    assert runtime | dev <= _pinned(ROOT / "requirements-dev.lock"), (
        "run `make lock` after changing pyproject.toml"
    )
