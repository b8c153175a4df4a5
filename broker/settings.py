"""Settings from ``BROKER_*`` environment variables. Nothing is built at import time."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from broker.domain.policy import Rules

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")

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

    # Policy dates (Vietnam time by default); see broker.domain.policy.
    citizen_vneid_only_from: datetime | None = datetime(2024, 6, 15, tzinfo=VIETNAM)
    unlinked_legacy_frozen_from: datetime | None = datetime(2024, 7, 1, tzinfo=VIETNAM)
    organisation_vneid_only_from: datetime | None = None
    foreigner_vneid_only_from: datetime | None = None
    officer_citizen_creation_disabled_from: datetime | None = datetime(2024, 6, 15, tzinfo=VIETNAM)

    max_form_bytes: int = Field(default=64 * 1024, ge=1024)

    # Brute force: this many failed passwords for one username within the window lock it for a while.
    login_max_failures: int = 5
    login_failure_window_seconds: int = 900
    login_lockout_seconds: int = 900

    # Issue 9: account clean-up at provincial scale.
    # Rows per transaction of `broker legacy import`: big enough for set-based statements to pay, small
    # enough that a chunk's locks last a moment and a killed import loses little.
    legacy_import_batch_rows: int = Field(default=5_000, ge=1)
    # The administrative unit of each relying party (client_id -> unit code): an account created at a first
    # VNeID login takes the unit of the RP that sent the citizen. JSON in BROKER_CLIENT_UNIT_CODES.
    client_unit_codes: dict[str, str] = Field(default_factory=dict)
    # Reconcile: accounts per transaction, so no lock outlives a moment.
    reconcile_batch_size: int = Field(default=2_000, ge=1)

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
            if self.vneid_client_secret == DEV_VNEID_CLIENT_SECRET:
                raise ValueError("BROKER_VNEID_CLIENT_SECRET must be set in production")
            if not self.issuer.startswith("https://"):
                raise ValueError("BROKER_ISSUER must be https in production")
        return self

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

    def sqlite_path(self) -> Path | None:
        prefix = "sqlite+aiosqlite:///"
        if self.database_url.startswith(prefix):
            return Path(self.database_url[len(prefix) :])
        return None
