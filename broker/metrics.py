"""Every Prometheus object of the broker, named ``broker_*``, on a registry of its own per app.

Label values come from small fixed sets (methods, outcomes, reason codes, endpoint names): never a
client_id, username or anything a caller controls, so a flood of random input cannot grow the series.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


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
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.upstream_circuit_open = Gauge(
            "broker_upstream_circuit_open",
            "1 while the circuit breaker keeps the broker from calling VNeID, else 0.",
            registry=self.registry,
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
            "broker_build_info", "Broker build information.", ["version"], registry=self.registry
        )
