"""Every Prometheus object of the broker, named ``broker_*``, on a registry of its own per app.

Label values come from small fixed sets (methods, outcomes, reason codes, endpoint names, route
templates): never a client_id, username, raw path or anything a caller controls, so a flood of random
input cannot grow the series (``bounded`` below folds anything unexpected into ``other``).

Several uvicorn workers: with ``PROMETHEUS_MULTIPROC_DIR`` set (``broker serve --workers N`` requires
it), prometheus-client keeps every worker's values in files there and ``exposition`` sums them, so any
worker answers ``/metrics`` for all (docs/operations.md, tests/ops/test_metrics.py).
"""

from __future__ import annotations

import os
import re

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

__all__ = ["CONTENT_TYPE_LATEST", "HashQueue", "Metrics", "bounded", "record_audit"]

_LABEL = re.compile(r"[a-z][a-z0-9_.]{0,47}")
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def bounded(value: str | None, default: str = "none") -> str:
    """A label value from code-defined vocabulary; anything else (caller input by mistake) is ``other``."""
    if not value:
        return default
    return value if _LABEL.fullmatch(value) else "other"


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class HashQueue:
    """The password-hashing pool's queue (``broker.password_pool`` sets the gauges as attempts come and go,
    and observes each attempt's time, queue wait included)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.waiting_gauge = Gauge(
            "broker_password_hash_waiting",
            "Password verifications waiting for a slot in the hashing pool.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.running_gauge = Gauge(
            "broker_password_hash_running",
            "Password verifications running in the hashing pool.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.seconds = Histogram(
            "broker_password_hash_seconds",
            "Time from asking for a password verification to its result (queue wait included).",
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.logins = Counter(
            "broker_logins_total",
            "Login attempts by method and outcome.",
            ["method", "outcome"],
            registry=self.registry,
        )
        self.tokens_issued = Counter(
            "broker_tokens_issued_total",
            "Tokens issued by kind (id_token, access_token) and grant type.",
            ["kind", "grant_type"],
            registry=self.registry,
        )
        self.token_errors = Counter(
            "broker_token_errors_total",
            "Token endpoint errors by wire error code.",
            ["error"],
            registry=self.registry,
        )
        self.upstream_latency = Histogram(
            "broker_upstream_request_seconds",
            "Latency of calls to VNeID by endpoint and outcome.",
            ["endpoint", "outcome"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.upstream_circuit_open = Gauge(
            "broker_upstream_circuit_open",
            "1 while the circuit breaker keeps the broker from calling VNeID, else 0.",
            registry=self.registry,
            multiprocess_mode="max",
        )
        self.accounts_created = Counter(
            "broker_accounts_created_total",
            "Accounts created at first VNeID login (Case 1).",
            registry=self.registry,
        )
        self.backchannel_deliveries = Counter(
            "broker_backchannel_logout_deliveries_total",
            "Back-channel logout delivery attempts by outcome (delivered, failed).",
            ["outcome"],
            registry=self.registry,
        )
        self.sessions = Counter(
            "broker_sso_sessions_total",
            "SSO session events: opened, renewed, reused (a code without a login page), ended.",
            ["event"],
            registry=self.registry,
        )
        self.ssf_sets = Counter(
            "broker_ssf_sets_total",
            "Security Event Tokens settled, by delivery and outcome (push delivered/rejected, poll acknowledged/rejected).",
            ["delivery", "outcome"],
            registry=self.registry,
        )
        self.info = Gauge(
            "broker_build_info",
            "Broker build information.",
            ["version"],
            registry=self.registry,
            multiprocess_mode="max",
        )
        # Issue 12: what a dashboard and the alerts of deploy/prometheus/alerts.yml need.
        self.http_duration = Histogram(
            "broker_http_request_duration_seconds",
            "HTTP requests by method, route template (never the raw path) and status class.",
            ["method", "route", "status_class"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.login_attempts = Counter(
            "broker_login_attempts_total",
            "Logins as audited: upstream (vneid, legacy), method, account type, outcome and reason code.",
            ["upstream", "method", "account_type", "outcome", "reason"],
            registry=self.registry,
        )
        self.links = Counter(
            "broker_links_total",
            "Legacy accounts linked to a VNeID identity, by kind of proof.",
            ["kind"],
            registry=self.registry,
        )
        self.merges = Counter(
            "broker_merges_total",
            "Accounts merged into another (Case 3), by kind (citizen's choice, officer).",
            ["kind"],
            registry=self.registry,
        )
        self.upstream_calls = Histogram(
            "broker_upstream_call_seconds",
            "Outgoing HTTP calls by upstream (vneid, relying_party), endpoint and outcome.",
            ["upstream", "endpoint", "outcome"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.review_queue = Gauge(
            "broker_review_queue_depth",
            "Open items in the officers' review queue, by kind (refreshed in the background).",
            ["kind"],
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self.cleanup_accounts = Gauge(
            "broker_cleanup_accounts",
            "Accounts per clean-up class and account type (refreshed in the background).",
            ["account_type", "class"],
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self.signing_key_age = Gauge(
            "broker_signing_key_age_seconds",
            "Age of the key that signs now, per algorithm (refreshed in the background).",
            ["alg"],
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self.certificate_expiry = Gauge(
            "broker_tls_certificate_expiry_timestamp_seconds",
            "When the TLS certificate of the issuer's or an upstream's host expires (Unix time; checked "
            "in the background every BROKER_CERTIFICATE_CHECK_SECONDS).",
            ["host"],
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self.database_up = Gauge(
            "broker_database_up",
            "1 when the last background check reached the database, else 0.",
            registry=self.registry,
            multiprocess_mode="min",
        )
        self.gauges_refreshed = Gauge(
            "broker_gauges_refreshed_timestamp_seconds",
            "When the background gauges were last refreshed (Unix time).",
            registry=self.registry,
            multiprocess_mode="mostrecent",
        )
        self.db_pool_in_use = Gauge(
            "broker_db_pool_connections_in_use",
            "Database connections checked out of the pool.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.db_pool_waiting = Gauge(
            "broker_db_pool_waiting",
            "Callers waiting for a database connection from the pool.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.db_pool_timeouts = Counter(
            "broker_db_pool_timeouts_total",
            "Callers that gave up waiting for a database connection.",
            registry=self.registry,
        )
        self.hash_queue = HashQueue(self.registry)

    def exposition(self) -> bytes:
        """The text for ``/metrics``: this process's registry, or every worker's under multiprocess mode."""
        directory = multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry)
        collected = CollectorRegistry()
        multiprocess.MultiProcessCollector(collected, path=directory)
        return generate_latest(collected)


def record_audit(
    metrics: Metrics,
    action: str,
    outcome: str,
    reason: str | None,
    account_type: str | None,
    upstream: str | None,
) -> None:
    """Counts what an audit row records (called by the audit writer once its transaction has committed)."""
    if action.startswith("login."):
        method = action.removeprefix("login.")
        default_upstream = "legacy" if method == "password" else "vneid"
        metrics.login_attempts.labels(
            bounded(upstream, default_upstream),
            bounded(method),
            bounded(account_type, "unknown"),
            bounded(outcome),
            bounded(reason),
        ).inc()
    elif action == "account.create" and reason == "first_vneid_login":
        metrics.accounts_created.inc()  # counted once its INSERT committed, not by a first login that lost
    elif action == "account.link" and outcome == "done":
        metrics.links.labels(bounded(reason)).inc()
    elif action == "account.merge" and outcome == "done":
        metrics.merges.labels(bounded(reason)).inc()
