"""The database tables. Schema changes go through Alembic migrations in ``migrations/``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from broker.store.types import UTCDateTime


def _instant(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=sa.Column(UTCDateTime(), nullable=nullable, index=index))


def _new_list() -> list[Any]:
    # A function, not the builtin ``list``: pydantic inspects a default factory's signature every time
    # it calls it, and ``inspect.signature(list)`` parses a text signature (0.4 ms here, twice per login
    # flow built: issue 7). Same for ``_new_dict``.
    return []


def _new_dict() -> dict[str, Any]:
    return {}


def _json(*, nullable: bool = False) -> Any:
    return Field(default_factory=_new_list, sa_column=sa.Column(sa.JSON(), nullable=nullable))


class Account(SQLModel, table=True):
    """A person or organisation as the relying parties know it: ``sub`` never changes."""

    __tablename__ = "accounts"
    # Duplicate suspects (issue 9): a CMND account and a CCCD account with one name and birth date.
    __table_args__ = (sa.Index("ix_accounts_name_key_birthdate", "name_key", "birthdate"),)

    id: int | None = Field(default=None, primary_key=True)
    sub: str = Field(max_length=64, unique=True, index=True)
    account_type: str = Field(max_length=20)
    status: str = Field(max_length=20, default="active")
    name: str | None = Field(default=None, max_length=200)
    birthdate: date | None = None
    gender: str | None = Field(default=None, max_length=10)
    identification_number: str | None = Field(default=None, max_length=12, index=True)
    old_identification_number: str | None = Field(default=None, max_length=12, index=True)
    # Organisations and enterprises.
    org_name: str | None = Field(default=None, max_length=300)
    tax_code: str | None = Field(default=None, max_length=20, index=True)
    unit_code: str | None = Field(default=None, max_length=20)
    # Case 3: a retired account points at the one it was merged into; nothing is ever deleted.
    merged_into_id: int | None = Field(default=None, foreign_key="accounts.id")
    needs_review: bool = False
    created_at: datetime = _instant()
    updated_at: datetime = _instant()
    # Issue 9: where the account stands in the clean-up (broker.domain.classification), kept current by
    # import, link, merge, freeze and reconcile; and the name as matched for duplicates. Not indexed: no
    # lookup is by class, and an index would make every change of class rewrite the row's index entries
    # (migration 0014).
    cleanup_class: str | None = Field(default=None, max_length=30)
    name_key: str | None = Field(default=None, max_length=200)


class LegacyAccount(SQLModel, table=True):
    """An account imported from a province's or ministry's old system, kept as imported.

    (source_system, legacy_id) identifies a row, so importing it again updates it. ``account_id`` is the
    broker account the relying parties see; it moves to the survivor when accounts merge.
    """

    __tablename__ = "legacy_accounts"
    __table_args__ = (
        sa.UniqueConstraint("source_system", "legacy_id", name="uq_legacy_accounts_source_legacy_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    source_system: str = Field(max_length=100)
    legacy_id: str = Field(max_length=100)
    username: str = Field(max_length=200)
    # NFKC + casefold of the username: the key of lookups and of the brute-force lockout.
    username_key: str = Field(max_length=200, index=True)
    account_type: str = Field(max_length=20)
    full_name: str | None = Field(default=None, max_length=200)
    birth_date: date | None = None
    gender: str | None = Field(default=None, max_length=10)
    cmnd: str | None = Field(default=None, max_length=12, index=True)
    cccd: str | None = Field(default=None, max_length=12, index=True)
    org_name: str | None = Field(default=None, max_length=300)
    tax_code: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=30)
    unit_code: str | None = Field(default=None, max_length=20)
    password_hash: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    hash_scheme: str | None = Field(default=None, max_length=20)
    # The hash as last imported: a re-import with the same value keeps a rehash done at login.
    imported_password_hash: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    source_created_at: datetime | None = _instant(nullable=True)
    imported_at: datetime = _instant()
    updated_at: datetime = _instant()
    # Digest of the row as last imported: a re-import writes only rows whose digest differs (issue 9).
    content_hash: str | None = Field(default=None, max_length=32)


class AccountAlias(SQLModel, table=True):
    """A retired ``sub`` (of a merged account) that now stands for the surviving account."""

    __tablename__ = "account_aliases"

    sub: str = Field(primary_key=True, max_length=64)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    created_at: datetime = _instant()


class AccountRole(SQLModel, table=True):
    """Staff are people with VNeID like everyone else: roles hang on their accounts."""

    __tablename__ = "account_roles"
    __table_args__ = (sa.UniqueConstraint("account_id", "role", name="uq_account_roles_account_role"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    role: str = Field(max_length=40)
    granted_by: str = Field(max_length=100)
    granted_at: datetime = _instant()


class ReviewItem(SQLModel, table=True):
    """Work for an officer: a doubtful duplicate (Case 3) or a link whose identity data disagrees."""

    __tablename__ = "review_items"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)
    status: str = Field(max_length=20, default="open", index=True)
    account_ids: list[int] = _json()
    # Differences with VNeID, numbers masked: what the officer needs, nothing more.
    details: dict[str, Any] = Field(default_factory=_new_dict, sa_column=sa.Column(sa.JSON(), nullable=False))
    created_at: datetime = _instant()
    resolved_at: datetime | None = _instant(nullable=True)
    resolved_by: str | None = Field(default=None, max_length=100)
    resolution: str | None = Field(default=None, max_length=40)


class AccountEvent(SQLModel, table=True):
    """The outbox: written in the same transaction as the change it reports; ``id`` is the RPs' cursor."""

    __tablename__ = "account_events"

    id: int | None = Field(default=None, primary_key=True)
    type: str = Field(max_length=40)
    sub: str = Field(max_length=64, index=True)
    # The other account an event concerns (a merge's retired account): who may read it depends on both.
    related_sub: str | None = Field(default=None, max_length=64, index=True)
    data: dict[str, Any] = Field(default_factory=_new_dict, sa_column=sa.Column(sa.JSON(), nullable=False))
    created_at: datetime = _instant()
    # Commit order, assigned after commit by one writer at a time (broker.store.events.sequence): the
    # readers' cursor, which never skips an event that committed late.
    position: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger(), nullable=True, unique=True, index=True)
    )


class ClientAccount(SQLModel, table=True):
    """Which relying party has dealt with which account (a code or a token was issued): the event feeds
    tell a relying party only about its own citizens."""

    __tablename__ = "client_accounts"

    client_id: str = Field(primary_key=True, max_length=100)
    account_id: int = Field(primary_key=True, foreign_key="accounts.id", index=True)
    first_seen_at: datetime = _instant()


class SsfStream(SQLModel, table=True):
    """A Shared Signals event stream (SSF 1.0 §8.1.1): one per relying party."""

    __tablename__ = "ssf_streams"

    stream_id: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(max_length=100, unique=True)
    delivery_method: str = Field(max_length=40)
    # Push: the receiver's endpoint; poll: NULL (the broker's own poll URL is derived from stream_id).
    endpoint_url: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    # SSF §6.1.1: sent verbatim with every push; the receiver's own credential for its endpoint.
    authorization_header: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    events_requested: list[str] = _json()
    events_delivered: list[str] = _json()
    description: str | None = Field(default=None, max_length=500)
    status: str = Field(max_length=20)
    reason: str | None = Field(default=None, max_length=200)
    # The last outbox position fanned out to this stream.
    cursor: int = Field(default=0, sa_column=sa.Column(sa.BigInteger(), nullable=False))
    # Push worker: a lease on the stream (deliveries are sequential per stream, so commit order holds).
    push_due_at: datetime = _instant(index=True)
    push_failures: int = 0
    last_push_error: str | None = Field(default=None, max_length=100)
    last_verification_at: datetime | None = _instant(nullable=True)
    created_at: datetime = _instant()
    updated_at: datetime = _instant()


class SsfSet(SQLModel, table=True):
    """A Security Event Token waiting for delivery on a stream: claims fixed when queued (so ``jti`` and
    ``iat`` are the same on every retry), signed when sent. Deleted once pushed (202), acknowledged or
    rejected by the receiver: the queue holds only what is still owed."""

    __tablename__ = "ssf_sets"

    id: int | None = Field(default=None, primary_key=True)
    stream_id: str = Field(max_length=64, index=True)
    jti: str = Field(max_length=64, unique=True)
    claims: dict[str, Any] = Field(default_factory=_new_dict, sa_column=sa.Column(sa.JSON(), nullable=False))
    created_at: datetime = _instant()


class AuditEntry(SQLModel, table=True):
    """Append-only (the database refuses UPDATE, DELETE and TRUNCATE) and hash-chained: who did what, when,
    and why. Identification numbers appear only masked."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _instant(index=True)
    actor: str = Field(max_length=100)
    action: str = Field(max_length=60, index=True)
    outcome: str = Field(max_length=20)
    reason: str | None = Field(default=None, max_length=60)
    sub: str | None = Field(default=None, max_length=64, index=True)
    details: dict[str, Any] = Field(default_factory=_new_dict, sa_column=sa.Column(sa.JSON(), nullable=False))
    # The hash chain (broker.domain.audit_chain): the previous record's hash, and this record's own.
    prev_hash: str | None = Field(default=None, max_length=64)
    chain_hash: str | None = Field(default=None, max_length=64)


class LoginThrottle(SQLModel, table=True):
    """Failed password attempts per username key: one row, updated atomically, across all replicas."""

    __tablename__ = "login_throttles"

    key: str = Field(primary_key=True, max_length=64)
    failures: int = 0
    window_started_at: datetime = _instant()
    locked_until: datetime | None = _instant(nullable=True)


class UpstreamLink(SQLModel, table=True):
    """Identity = (upstream issuer, upstream subject), unique; one identity, one surviving account."""

    __tablename__ = "upstream_links"
    __table_args__ = (
        sa.UniqueConstraint("issuer", "subject", name="uq_upstream_links_issuer_subject"),
        # One surviving account per person: an account holds at most one identity of an issuer. The
        # account first: led by the issuer, this index matched a lookup by (issuer, subject) as well as the
        # one above, and a plan PostgreSQL made on an empty table chose it, reading every link of the
        # issuer at each login (issue 7, seventeenth round; migration 0020).
        # Its index also answers every read by account_id alone (migration 0021 dropped the one-column one).
        sa.UniqueConstraint("account_id", "issuer", name="uq_upstream_links_account_issuer"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id")
    issuer: str = Field(max_length=255)
    subject: str = Field(max_length=255)
    level: int = 1
    created_at: datetime = _instant()
    last_login_at: datetime = _instant()


class VerifiedNumber(SQLModel, table=True):
    """Issue 10: the account a personal identification number, verified by some upstream, belongs to.
    The primary key is the guard: two first logins of one person through two upstreams at once cannot
    make two accounts (the second insert fails and that login retries, finding the first one's account)."""

    __tablename__ = "verified_numbers"

    identification_number: str = Field(primary_key=True, max_length=12)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    created_at: datetime = _instant()


class Client(SQLModel, table=True):
    """A relying party. The secret is stored as a keyed hash (HMAC-SHA-256), never in clear."""

    __tablename__ = "clients"

    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(max_length=100, unique=True, index=True)
    name: str = Field(max_length=200)
    secret_hash: str | None = Field(default=None, max_length=128)
    redirect_uris: list[str] = _json()
    id_token_signed_response_alg: str = Field(default="RS256", max_length=10)
    created_at: datetime = _instant()
    # OpenID Provider settings, named after OIDC Dynamic Client Registration metadata.
    token_endpoint_auth_method: str = Field(
        default="client_secret_basic",
        sa_column=sa.Column(sa.String(30), nullable=False, server_default="client_secret_basic"),
    )
    grant_types: list[str] | None = Field(default=None, sa_column=sa.Column(sa.JSON(), nullable=True))
    post_logout_redirect_uris: list[str] | None = Field(
        default=None, sa_column=sa.Column(sa.JSON(), nullable=True)
    )
    backchannel_logout_uri: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    jwks: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON(), nullable=True))
    jwks_uri: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    subject_type: str = Field(
        default="public", sa_column=sa.Column(sa.String(10), nullable=False, server_default="public")
    )
    sector_identifier_uri: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    sector_identifier: str | None = Field(default=None, max_length=255)
    default_acr_values: list[str] | None = Field(default=None, sa_column=sa.Column(sa.JSON(), nullable=True))
    minimum_acr: str | None = Field(default=None, max_length=100)
    # "jwt" or "opaque" for this client's access tokens; NULL: the broker's BROKER_ACCESS_TOKEN_FORMAT.
    access_token_format: str | None = Field(default=None, max_length=10)
    disabled_at: datetime | None = _instant(nullable=True)


class SigningKey(SQLModel, table=True):
    """The broker's own signing keys; the private half never leaves this table and the process."""

    __tablename__ = "signing_keys"

    kid: str = Field(primary_key=True, max_length=64)
    alg: str = Field(max_length=10)
    private_pem: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    created_at: datetime = _instant()
    retired_at: datetime | None = _instant(nullable=True)


class LoginFlow(SQLModel, table=True):
    """One row per browser login: the RP's request, the upstream leg, and where it stands."""

    __tablename__ = "login_flows"

    id: str = Field(primary_key=True, max_length=64)
    browser_hash: str = Field(max_length=64)
    state: str = Field(max_length=20, index=True)
    client_id: str = Field(max_length=100)
    redirect_uri: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    scope: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    rp_state: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    nonce: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    code_challenge: str = Field(max_length=128)
    prompt: str | None = Field(default=None, max_length=100)
    upstream_nonce: str | None = Field(default=None, max_length=64)
    upstream_code_verifier: str | None = Field(default=None, max_length=128)
    account_id: int | None = Field(default=None, foreign_key="accounts.id")
    # A legacy account proven by password that the citizen chose to link with VNeID (the link proof).
    link_account_id: int | None = Field(default=None, foreign_key="accounts.id")
    # Case 3: the verified VNeID identity and the candidates, while the citizen chooses which to keep.
    pending_identity: dict[str, Any] | None = Field(
        default=None, sa_column=sa.Column(sa.JSON(), nullable=True)
    )
    candidate_account_ids: list[int] = _json()
    auth_time: datetime | None = _instant(nullable=True)
    acr: str | None = Field(default=None, max_length=100)
    amr: list[str] = _json()
    failure_reason: str | None = Field(default=None, max_length=64)
    created_at: datetime = _instant()
    expires_at: datetime = _instant(index=True)
    # Issue 10: which configured upstream the citizen chose (None before the choice, or the default).
    upstream_id: str | None = Field(default=None, max_length=32)


class AuthorizationCode(SQLModel, table=True):
    """Stored by hash; ``used`` flips once, in a conditional UPDATE, so a code is redeemed exactly once."""

    __tablename__ = "authorization_codes"

    code_hash: str = Field(primary_key=True, max_length=64)
    grant_id: str = Field(max_length=64, index=True)
    client_id: str = Field(max_length=100)
    redirect_uri: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    account_id: int = Field(foreign_key="accounts.id")
    scope: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    nonce: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    code_challenge: str = Field(max_length=128)
    auth_time: datetime = _instant()
    acr: str = Field(max_length=100)
    amr: list[str] = _json()
    used: bool = False
    created_at: datetime = _instant()
    expires_at: datetime = _instant(index=True)  # the purge's condition
    sid: str | None = Field(default=None, max_length=64)


class AccessToken(SQLModel, table=True):
    """Issued access tokens by ``jti``: the token (a signed JWT or an opaque handle naming the jti,
    ``broker.oidc.access_tokens``) is the bearer, this row is what revokes it."""

    __tablename__ = "access_tokens"

    jti: str = Field(primary_key=True, max_length=64)
    grant_id: str = Field(max_length=64, index=True)
    client_id: str = Field(max_length=100, index=True)
    account_id: int = Field(foreign_key="accounts.id")
    scope: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    created_at: datetime = _instant()
    expires_at: datetime = _instant(index=True)  # the purge's condition
    revoked_at: datetime | None = _instant(nullable=True)
    sid: str | None = Field(default=None, max_length=64, index=True)
    offline: bool = Field(
        default=False, sa_column=sa.Column(sa.Boolean(), nullable=False, server_default=sa.false())
    )
    # SHA-256 (hex) of the signed token: the broker's own endpoints recognise the token by it
    # (broker.oidc.keys.KeyRing.verify_issued). NULL for tokens issued before migration 0015.
    token_hash: str | None = Field(default=None, max_length=64)
    # What introspection says of an opaque token, which carries no claims (migration 0018).
    acr: str | None = Field(default=None, max_length=100)


class SsoSession(SQLModel, table=True):
    """A citizen's single sign-on session at the broker. The cookie is stored only as its SHA-256; ``sid``
    (OIDC Front-/Back-Channel Logout) is a separate random value that relying parties may see."""

    __tablename__ = "sso_sessions"

    sid: str = Field(primary_key=True, max_length=64)
    cookie_hash: str = Field(max_length=64, unique=True, index=True)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    auth_time: datetime = _instant()
    acr: str = Field(max_length=100)
    amr: list[str] = _json()
    created_at: datetime = _instant()
    expires_at: datetime = _instant(index=True)  # the purge's condition
    ended_at: datetime | None = _instant(nullable=True, index=True)
    # Issue 10: the upstream that vouched, and its logout URL (DVCQG's logoutUri) to end its session too.
    upstream_id: str | None = Field(default=None, max_length=32)
    upstream_logout_uri: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))


class SsoSessionClient(SQLModel, table=True):
    """A relying party that received a code within a session: it is told when the session ends."""

    __tablename__ = "sso_session_clients"

    sid: str = Field(primary_key=True, max_length=64, foreign_key="sso_sessions.sid")
    client_id: str = Field(primary_key=True, max_length=100)
    created_at: datetime = _instant()


class LoginFlowRequirement(SQLModel, table=True):
    """What a login flow must achieve upstream: the assurance level, a fresh login, the session it renews."""

    __tablename__ = "login_flow_requirements"

    flow_id: str = Field(primary_key=True, max_length=64, foreign_key="login_flows.id")
    min_level: int = 1
    force_login: bool = False
    prior_sid: str | None = Field(default=None, max_length=64)


class RefreshToken(SQLModel, table=True):
    """Stored by hash. Rotated on every use by one conditional UPDATE of ``rotated_at``; every token of a
    grant shares ``grant_id`` and the grant's absolute ``expires_at``."""

    __tablename__ = "refresh_tokens"

    token_hash: str = Field(primary_key=True, max_length=64)
    grant_id: str = Field(max_length=64, index=True)
    client_id: str = Field(max_length=100, index=True)
    account_id: int = Field(foreign_key="accounts.id")
    scope: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    sid: str | None = Field(default=None, max_length=64, index=True)
    offline: bool = False
    auth_time: datetime = _instant()
    acr: str = Field(max_length=100)
    amr: list[str] = _json()
    created_at: datetime = _instant()
    expires_at: datetime = _instant(index=True)  # the purge's condition
    rotated_at: datetime | None = _instant(nullable=True)
    revoked_at: datetime | None = _instant(nullable=True)


class ClientAssertionJti(SQLModel, table=True):
    """``jti`` values of private_key_jwt assertions already used (RFC 7523 §3 item 7): the unique
    constraint refuses a replay, even between replicas."""

    __tablename__ = "client_assertion_jtis"
    __table_args__ = (sa.UniqueConstraint("client_id", "jti", name="uq_client_assertion_jtis_client_jti"),)

    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(max_length=100)
    jti: str = Field(max_length=255)
    expires_at: datetime = _instant(index=True)


class BackchannelDelivery(SQLModel, table=True):
    """A logout token to POST to a relying party (OIDC Back-Channel Logout 1.0 §2.5): delivered by a
    background worker, with bounded retries; ``next_attempt_at`` doubles as the claim's lease."""

    __tablename__ = "backchannel_deliveries"

    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(max_length=100)
    logout_uri: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    sub: str = Field(max_length=255)
    sid: str | None = Field(default=None, max_length=64)
    jti: str = Field(max_length=64)
    status: str = Field(max_length=20, index=True)
    attempts: int = 0
    next_attempt_at: datetime = _instant(index=True)
    last_error: str | None = Field(default=None, max_length=100)
    created_at: datetime = _instant(index=True)  # the purge's condition
    delivered_at: datetime | None = _instant(nullable=True)


class CleanupSnapshot(SQLModel, table=True):
    """The clean-up counts of one day, per unit as stored and account type (``broker report snapshot``,
    cron): the time series behind the trend and the projected date (issue 9)."""

    __tablename__ = "cleanup_snapshots"

    day: date = Field(primary_key=True)
    unit_code: str = Field(primary_key=True, max_length=20)
    account_type: str = Field(primary_key=True, max_length=20)
    accounts: int = 0
    linked: int = 0
    not_cleaned: int = 0
    frozen: int = 0
    under_review: int = 0
    merged: int = 0
    taken_at: datetime = _instant()


class ReconcileGroup(SQLModel, table=True):
    """A group of duplicate suspects already sent to the review queue, by a digest of what they share
    (never the number in clear): ``broker legacy reconcile`` files each group once."""

    __tablename__ = "reconcile_groups"

    group_key: str = Field(primary_key=True, max_length=64)
    review_item_id: int | None = Field(default=None)
    created_at: datetime = _instant()


class ConsoleSession(SQLModel, table=True):
    """An officer signed in to the console (issue 11). The cookie is stored only as its SHA-256; the row
    rides on the broker's SSO session ``sid``, so logging out of the broker ends it too."""

    __tablename__ = "console_sessions"

    cookie_hash: str = Field(primary_key=True, max_length=64)
    account_id: int = Field(foreign_key="accounts.id", index=True)
    sid: str | None = Field(default=None, max_length=64, index=True)
    # Every form of the console carries it; a POST without the session's token is refused (CSRF).
    csrf_token: str = Field(max_length=64)
    created_at: datetime = _instant()
    expires_at: datetime = _instant(index=True)
    ended_at: datetime | None = _instant(nullable=True)


class SourceSystem(SQLModel, table=True):
    """The name people read for a legacy source system (``dvc-tinh`` → "Cổng DVC tỉnh"), as imported."""

    __tablename__ = "source_systems"

    code: str = Field(primary_key=True, max_length=100)
    display_name: str = Field(max_length=200)
    updated_at: datetime = _instant()
