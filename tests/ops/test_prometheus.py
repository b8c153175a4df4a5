"""Alerts and dashboard in the repo (issue 12 item 3): promtool checks and unit-tests the rules; every
query of the Grafana dashboard and of the alerts names a metric a real broker exposes after a login; a
real Prometheus (Debian's package) scrapes a running broker and sees the login."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Stack
from tests.support.browser import Browser, RelyingParty
from tests.support.op import log_in_and_redeem
from tests.support.servers import free_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "vneid-broker.json"
METRIC = re.compile(r"\bbroker_[a-z0-9_]+")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("REQUIRE_PROMETHEUS") == "1":
            pytest.fail(f"{name} is not installed (Debian package prometheus; .ci/run installs it)")
        pytest.skip(f"{name} is not installed (Debian package prometheus)")
    return path


def test_promtool_checks_the_rules() -> None:
    result = subprocess.run(
        [_tool("promtool"), "check", "rules", str(ALERTS)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 12 rules found" in result.stdout


def test_promtool_unit_tests_of_the_alerts_pass() -> None:
    result = subprocess.run(
        [_tool("promtool"), "test", "rules", "alerts.test.yml"],
        cwd=ALERTS.parent,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def _exposed_names(text: str) -> set[str]:
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(f"{family.name}_total")
        if family.type == "histogram":
            names.update(f"{family.name}_{suffix}" for suffix in ("bucket", "count", "sum"))
    return names


def _queries() -> dict[str, list[str]]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    rules = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return {
        "dashboard": [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]],
        "alerts": [rule["expr"] for group in rules["groups"] for rule in group["rules"]],
    }


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_every_dashboard_and_alert_query_names_a_metric_the_broker_exposes(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    await log_in_and_redeem(stack, http, Browser(), rp)
    exposed = _exposed_names((await http.get(f"{stack.broker_url}/metrics")).text)
    queries = _queries()
    assert len(queries["dashboard"]) >= 16
    for source, expressions in queries.items():
        for expression in expressions:
            named = set(METRIC.findall(expression))
            assert named or expression.startswith("up{"), (source, expression)  # `up`: Prometheus's own
            assert named <= exposed, (source, expression, named - exposed)


@pytest.fixture
def prometheus(tmp_path: Path, stack: Stack) -> Iterator[str]:
    """A real Prometheus on a free port, scraping the stack's broker every second, with the repo's alerts."""
    binary = _tool("prometheus")
    port = free_port()
    target = stack.broker_url.removeprefix("http://")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ALERTS)],
        "scrape_configs": [{"job_name": "vneid-broker", "static_configs": [{"targets": [target]}]}],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise TimeoutError((tmp_path / "prometheus.log").read_text())
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


async def _query(http: httpx.AsyncClient, prometheus: str, expression: str) -> list[dict]:  # type: ignore[type-arg]
    response = await http.get(f"{prometheus}/api/v1/query", params={"query": expression})
    assert response.status_code == 200, response.text
    return list(response.json()["data"]["result"])


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_real_prometheus_scraping_the_broker_sees_a_login(
    stack: Stack, rp: RelyingParty, prometheus: str, http: httpx.AsyncClient
) -> None:
    await log_in_and_redeem(stack, http, Browser(), rp)
    expression = 'sum(broker_login_attempts_total{job="vneid-broker",method="vneid",outcome="allowed"})'
    deadline = time.monotonic() + 30
    result: list[dict] = []  # type: ignore[type-arg]
    while time.monotonic() < deadline:
        result = await _query(http, prometheus, expression)
        if result and float(result[0]["value"][1]) == 1:
            break
        await asyncio.sleep(0.5)
    assert result and float(result[0]["value"][1]) == 1, result
    up = await _query(http, prometheus, 'up{job="vneid-broker"}')
    assert [float(sample["value"][1]) for sample in up] == [1]
    rules = (await http.get(f"{prometheus}/api/v1/rules")).json()["data"]["groups"]
    assert {rule["name"] for group in rules for rule in group["rules"]} >= {
        "VNeIDFailing",
        "DatabaseUnavailable",
    }
