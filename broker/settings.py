"""Settings from ``BROKER_*`` environment variables. Nothing is built at import time."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from broker.clock import VIETNAM
from broker.domain.policy import Rules
from broker.upstream.config import AdapterType, UpstreamConfig, check_unique

# Development defaults that must never reach production: Settings refuses them there.
DEV_VNEID_CLIENT_SECRET = "broker-dev-secret"
DEV_SECRET_KEY = "dev-only-secret-key-change-me-0123456789abcdef"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BROKER_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    issuer: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = "sqlite+aiosqlite:///var/broker.db"
    # Keys derived from it: cookie signing and the HMAC that stores client secrets.
    secret_key: str = DEV_SECRET_KEY
    log_level: str = "INFO"

    # Upstream: VNeID (mock_vneid in development).
    vneid_issuer: str = "http://127.0.0.1:9000"
    vneid_client_id: str = "broker-dev"
    vneid_client_secret: str = DEV_VNEID_CLIENT_SECRET
    vneid_scope: str = "openid profile vneid"
    # oidc: ask VNeID's userinfo after the code exchange; false when its ID token carries every mapped claim.
    vneid_userinfo: bool = True
    vneid_connect_timeout_seconds: float = 3.0
    vneid_read_timeout_seconds: float = 10.0
    vneid_leeway_seconds: int = 60
    vneid_jwks_min_refetch_seconds: int = 30
    vneid_metadata_ttl_seconds: int = 3600
    # Circuit breaker: after this many failed calls in a row, stop calling VNeID for the cooldown.
    vneid_breaker_failures: int = 5
    vneid_breaker_cooldown_seconds: int = 30

    # Lifetimes.
    login_flow_ttl_seconds: int = 600
    authorization_code_ttl_seconds: int = 60
    access_token_ttl_seconds: int = 600
    # The access tokens of clients registered without a format of their own (clients.access_token_format).
    # opaque: a handle only the broker resolves (userinfo, introspection), carrying nothing readable, ended
    # at once by revocation or logout, one RSA signature fewer per token (broker.oidc.access_tokens); jwt:
    # RFC 9068, which resource servers can verify with the published keys. Both are accepted.
    access_token_format: Literal["jwt", "opaque"] = "opaque"
    id_token_ttl_seconds: int = 600
    # Absolute lifetime of a refresh-token grant: rotation never extends it.
    refresh_token_ttl_seconds: int = Field(default=30 * 86400, ge=60)
    sso_session_ttl_seconds: int = Field(default=8 * 3600, ge=60)
    logout_token_ttl_seconds: int = Field(default=120, ge=10)

    # Signing keys: a new key is published this long before it signs (>= the JWKS max-age, which is
    # derived from it); replicas re-read the keys every key_reload_seconds.
    key_publish_ahead_seconds: int = Field(default=600, ge=0)
    key_reload_seconds: int = Field(default=60, ge=1)

    # Client authentication with private_key_jwt (RFC 7523).
    client_assertion_max_lifetime_seconds: int = Field(default=300, ge=10)
    client_assertion_leeway_seconds: int = Field(default=30, ge=0)
    # Calls to relying parties: their jwks_uri, sector_identifier_uri, back-channel logout.
    rp_connect_timeout_seconds: float = 3.0
    rp_read_timeout_seconds: float = 5.0
    client_jwks_cache_seconds: int = Field(default=300, ge=0)

    # Back-channel logout deliveries (OIDC Back-Channel Logout 1.0).
    backchannel_max_attempts: int = Field(default=6, ge=1)
    backchannel_backoff_seconds: int = Field(default=10, ge=1)  # doubles after every failed attempt
    backchannel_lease_seconds: int = Field(default=60, ge=5)  # a claimed delivery is retried after this
    backchannel_poll_seconds: float = Field(default=1.0, gt=0)
    backchannel_worker: bool = True

    default_language: Literal["vi", "en"] = "vi"
    cookie_secure: bool | None = None  # None: secure when the issuer is https
    # Pages re-read when their template changed on disk, at the cost of a stat() of every template of
    # every page shown. None: in development only.
    template_auto_reload: bool | None = None

    # Policy dates (Vietnam time by default); see broker.domain.policy.
    citizen_vneid_only_from: datetime | None = datetime(2024, 6, 15, tzinfo=VIETNAM)
    unlinked_legacy_frozen_from: datetime | None = datetime(2024, 7, 1, tzinfo=VIETNAM)
    organisation_vneid_only_from: datetime | None = None
    foreigner_vneid_only_from: datetime | None = None
    officer_citizen_creation_disabled_from: datetime | None = datetime(2024, 6, 15, tzinfo=VIETNAM)

    max_form_bytes: int = Field(default=64 * 1024, ge=1024)

    # Connections per process kept open (PostgreSQL) for the statements the broker sends by asyncpg itself
    # (the logins' and the token endpoints', broker.store.prepared), and half as many again for the ORM's
    # transactions, topped up by up to 10 more in a burst. A connection opened beyond them is closed after
    # use, and every new one costs a connect and a fresh prepare of each statement: keep this above the
    # requests a process serves at once.
    database_pool_size: int = Field(default=20, ge=1)

    # Benchmarks only (bench/op_bench.py): answers carry X-DB-Round-Trips, the round trips they cost.
    bench_count_round_trips: bool = False

    # Brute force: this many failed passwords for one username within the window lock it for a while.
    login_max_failures: int = 5
    login_failure_window_seconds: int = 900
    login_lockout_seconds: int = 900

    # Issue 8 (trustworthy under attack and under load).
    # Password hashing runs in worker threads, at most this many at once, never on the event loop; by
    # default half the cores, so that hashing never takes the CPU the event loop needs.
    password_hash_workers: int = Field(default_factory=lambda: max(1, (os.cpu_count() or 2) // 2), ge=1)
    # Attempts waiting for a worker beyond this are answered 503 with Retry-After at once (before any
    # attempt is counted) instead of queueing for ever.
    password_hash_queue: int = Field(default=64, ge=1)
    # Every refused password attempt answers no sooner than this after it arrived, whatever the path
    # (unknown username, wrong password under any scheme, lock, policy refusal): set it above the slowest
    # verification of the imported hashes under load (bcrypt cost 12 took 0.3 s idle, 0.8 s on a busy
    # 2-core machine), so timing tells nothing.
    password_refusal_floor_seconds: float = Field(default=1.0, ge=0)
    # Per username: after login_max_failures attempts in the window, one more attempt after a backoff that
    # starts here and doubles up to login_lockout_seconds (a slow-down, not a lock an attacker controls).
    login_backoff_seconds: int = Field(default=30, ge=1)
    # Per client address: a hard limit of attempts per login_failure_window_seconds.
    login_max_attempts_per_address: int = Field(default=100, ge=1)
    # Proxies (addresses or networks, comma-separated) whose X-Forwarded-For names the client; none by default.
    trusted_proxies: str = ""
    # The connection pool (its size above): a request that waits longer than this for a connection is
    # answered 503.
    database_max_overflow: int = Field(default=10, ge=0)
    database_pool_timeout_seconds: float = Field(default=10.0, gt=0)
    # The Retry-After of a 503 while the database is unavailable or saturated.
    unavailable_retry_after_seconds: int = Field(default=5, ge=1)

    # Issue 9: account clean-up at provincial scale.
    # Rows per transaction of `broker legacy import`: big enough for set-based statements to pay, small
    # enough that a chunk's locks last a moment and a killed import loses little.
    legacy_import_batch_rows: int = Field(default=5_000, ge=1)
    # A first import (no legacy and no other accounts yet) of a file this large or larger holds its rows
    # back and writes them at the end in one transaction, building the tables' indexes after the rows
    # instead of entry by entry (logins wait for that transaction: ~10 s a million rows; bench/README.md,
    # fifth round). A broker that already has accounts always imports chunk by chunk. 0: never.
    legacy_import_bulk_from_bytes: int = Field(default=16 << 20, ge=0)
    # The administrative unit of each relying party (client_id -> unit code): an account created at a first
    # VNeID login takes the unit of the RP that sent the citizen. JSON in BROKER_CLIENT_UNIT_CODES.
    client_unit_codes: dict[str, str] = Field(default_factory=dict)
    # Reconcile: accounts per transaction, so no lock outlives a moment.
    reconcile_batch_size: int = Field(default=2_000, ge=1)

    # Issue 10: real upstreams (docs/upstreams.md). Without BROKER_UPSTREAMS or BROKER_UPSTREAMS_FILE
    # the one upstream is VNeID from the BROKER_VNEID_* settings, speaking the adapter of vneid_mode.
    vneid_mode: AdapterType = "oidc"
    vneid_gateway_private_key_file: Path | None = None
    vneid_gateway_private_key_pem: str | None = None
    vneid_gateway_cipher_mode: Literal["ecb", "cbc"] = "ecb"
    vneid_jwks_max_age_seconds: int = Field(default=900, ge=1)
    vneid_logout: Literal["front-channel", "back-channel", "none"] = "front-channel"
    # Several upstreams: a JSON list of upstream objects, or a YAML/JSON file holding that list.
    upstreams: list[UpstreamConfig] | None = None
    upstreams_file: Path | None = None
    _upstream_configs: list[UpstreamConfig] = PrivateAttr(default_factory=list)

    # Issue 11: the pages people use.
    # Names shown for legacy source systems, as a JSON object {"dvc-tinh": "Cổng DVC tỉnh", ...}; a code
    # without a name here uses the name imported with the accounts, else the code itself.
    source_system_names: dict[str, str] = Field(default_factory=dict)
    # The officers' console: its own session (bound to the broker's SSO session) lasts at most this long.
    console_session_ttl_seconds: int = Field(default=8 * 3600, ge=60)

    # Issue 12: running it in production (docs/operations.md).
    log_format: Literal["text", "json"] = "text"
    # Fernet keys, comma-separated, newest first (wraps), all unwrap; or a file of them, one per line.
    # Neither: a key derived from BROKER_SECRET_KEY. `broker keys rewrap` moves every key to the newest.
    key_encryption_key: SecretStr | None = None
    key_encryption_key_file: Path | None = None
    # /readyz also fetches VNeID's metadata (off by default: a VNeID outage should not empty the pool
    # of replicas, whose login pages still tell citizens what to do).
    readyz_checks_upstream: bool = False
    # Gauges computed from the database (review queue, clean-up classes, key age) are refreshed this
    # often in the background, never per scrape.
    metrics_refresh_seconds: float = Field(default=30.0, gt=0)
    # The clean-up counts among them count every account (a GROUP BY): less often.
    cleanup_gauges_refresh_seconds: float = Field(default=300.0, gt=0)
    # The TLS certificates of the issuer's and the upstreams' hosts are read this often (a handshake each).
    certificate_check_seconds: float = Field(default=6 * 3600.0, gt=0)

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"):
            raise ValueError(f"unknown log level {value!r}: one of debug, info, warning, error, critical")
        return level

    # Shared Signals transmitter (issue 13): SETs by push (RFC 8935) and poll (RFC 8936).
    ssf_worker: bool = True
    ssf_worker_interval_seconds: float = Field(default=1.0, gt=0)  # fan-out and push, per replica
    ssf_push_backoff_seconds: float = Field(default=5.0, gt=0)  # doubles after every failed push
    ssf_push_backoff_max_seconds: float = Field(default=3600.0, gt=0)  # events are never dropped
    ssf_push_lease_seconds: int = Field(default=60, ge=5)
    # Push endpoints resolving to loopback, private, link-local or reserved addresses are refused unless
    # this is set (development and tests).
    ssf_push_allow_private_addresses: bool = False
    ssf_long_poll_seconds: float = Field(default=10.0, ge=0)  # a poll without returnImmediately waits
    ssf_min_verification_interval_seconds: int = Field(default=10, ge=0)

    @field_validator("issuer", "vneid_issuer")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator(
        "citizen_vneid_only_from",
        "unlinked_legacy_frozen_from",
        "organisation_vneid_only_from",
        "foreigner_vneid_only_from",
        "officer_citizen_creation_disabled_from",
    )
    @classmethod
    def _aware_in_vietnam(cls, value: datetime | None) -> datetime | None:
        # A date written without an offset means Vietnam time, as in the letters.
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=VIETNAM)
        return value

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            if self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < 32:
                raise ValueError("BROKER_SECRET_KEY must be set to a random value of 32+ characters")
            vneid_from_settings = self.upstreams is None and self.upstreams_file is None
            if vneid_from_settings and self.vneid_client_secret == DEV_VNEID_CLIENT_SECRET:
                raise ValueError("BROKER_VNEID_CLIENT_SECRET must be set in production")
            if not self.issuer.startswith("https://"):
                raise ValueError("BROKER_ISSUER must be https in production")
        return self

    @model_validator(mode="after")
    def _upstreams_are_valid(self) -> Settings:
        if self.upstreams is not None:
            configs = self.upstreams
        elif self.upstreams_file is not None:
            configs = _read_upstreams_file(self.upstreams_file)
        else:
            configs = [self._vneid_upstream()]
        self._upstream_configs = check_unique(configs)
        if self.environment == "production":
            for upstream in configs:
                endpoints = (upstream.issuer, upstream.token_endpoint, upstream.userinfo_endpoint)
                if any(url and not url.startswith("https://") for url in endpoints):
                    raise ValueError(f"upstream {upstream.id!r}: endpoints must be https in production")
                if upstream.client_secret == DEV_VNEID_CLIENT_SECRET:
                    raise ValueError(f"upstream {upstream.id!r}: its client_secret must be set in production")
        return self

    def _vneid_upstream(self) -> UpstreamConfig:
        """Today's single VNeID upstream, from the BROKER_VNEID_* settings."""
        if not self.vneid_userinfo and self.vneid_mode != "oidc":
            # Refused as an upstreams file's ``userinfo: false`` on such a type is: the other shapes carry
            # the identity in userinfo alone.
            raise ValueError(
                f"BROKER_VNEID_USERINFO=false is only for BROKER_VNEID_MODE=oidc, not {self.vneid_mode}"
            )
        return UpstreamConfig(
            id="vneid",
            display_name="VNeID",
            type=self.vneid_mode,
            issuer=self.vneid_issuer,
            # The key of every link made before upstreams were configurable; another shape of the same
            # service names citizens by other subjects, so it keys its own links.
            link_issuer=self.vneid_issuer
            if self.vneid_mode == "oidc"
            else f"{self.vneid_issuer}#{self.vneid_mode}",
            client_id=self.vneid_client_id,
            client_secret=self.vneid_client_secret,
            scope=self.vneid_scope if self.vneid_mode == "oidc" else "openid",
            userinfo=self.vneid_userinfo,
            private_key_file=self.vneid_gateway_private_key_file,
            private_key_pem=self.vneid_gateway_private_key_pem,
            cipher_mode=self.vneid_gateway_cipher_mode,
            logout=self.vneid_logout,
            connect_timeout_seconds=self.vneid_connect_timeout_seconds,
            read_timeout_seconds=self.vneid_read_timeout_seconds,
            leeway_seconds=self.vneid_leeway_seconds,
            jwks_min_refetch_seconds=self.vneid_jwks_min_refetch_seconds,
            jwks_max_age_seconds=self.vneid_jwks_max_age_seconds,
            metadata_ttl_seconds=self.vneid_metadata_ttl_seconds,
            breaker_failures=self.vneid_breaker_failures,
            breaker_cooldown_seconds=self.vneid_breaker_cooldown_seconds,
        )

    def upstream_configs(self) -> list[UpstreamConfig]:
        """The configured upstreams, the first being the default."""
        return list(self._upstream_configs)

    def policy_rules(self) -> Rules:
        """The dated rules of the policy, as configured (the letters' dates by default)."""
        return Rules(
            citizen_vneid_only_from=self.citizen_vneid_only_from,
            unlinked_legacy_frozen_from=self.unlinked_legacy_frozen_from,
            organisation_vneid_only_from=self.organisation_vneid_only_from,
            foreigner_vneid_only_from=self.foreigner_vneid_only_from,
            officer_citizen_creation_disabled_from=self.officer_citizen_creation_disabled_from,
        )

    @property
    def reload_templates(self) -> bool:
        if self.template_auto_reload is not None:
            return self.template_auto_reload
        return self.environment == "development"

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.issuer.startswith("https://")

    @property
    def longest_token_lifetime_seconds(self) -> int:
        """How long a signature may need checking: a retired key stays published this long."""
        return max(self.id_token_ttl_seconds, self.access_token_ttl_seconds, self.logout_token_ttl_seconds)

    @property
    def jwks_max_age_seconds(self) -> int:
        """An RP's cached JWKS plus a replica's stale key ring never outlive the publish-ahead delay."""
        return max(0, self.key_publish_ahead_seconds - self.key_reload_seconds)

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [item.strip() for item in self.trusted_proxies.split(",") if item.strip()]

    def sqlite_path(self) -> Path | None:
        prefix = "sqlite+aiosqlite:///"
        if self.database_url.startswith(prefix):
            return Path(self.database_url[len(prefix) :])
        return None


def _read_upstreams_file(path: Path) -> list[UpstreamConfig]:
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ValueError(f"BROKER_UPSTREAMS_FILE {path}: cannot be read: {exc}") from None
    if isinstance(data, dict):
        data = data.get("upstreams")
    if not isinstance(data, list):
        raise ValueError(f"BROKER_UPSTREAMS_FILE {path}: must hold a list of upstreams (or 'upstreams:')")
    try:
        return [UpstreamConfig.model_validate(entry) for entry in data]
    except ValidationError as exc:
        raise ValueError(f"BROKER_UPSTREAMS_FILE {path}: {exc}") from None
