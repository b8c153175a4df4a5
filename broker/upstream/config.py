"""What the broker knows about each upstream: configuration, validated when the settings load.

Everything the public integrations taught us about VNeID's gateway and the national portal's SSO (see
docs/upstreams.md) is a default here, never code: when the real service differs, a province changes a
setting. A mistake (a missing endpoint, a claim mapping that names an unknown field, a date format that
cannot parse, a gateway without its key) stops the start-up with a message naming the upstream and the field.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

AdapterType = Literal["oidc", "oauth2-userinfo", "vneid-gateway"]
ADAPTER_TYPES: tuple[AdapterType, ...] = ("oidc", "oauth2-userinfo", "vneid-gateway")

# The fields of the neutral identity a mapping may fill, and those a login may require.
MAPPED_FIELDS = (
    "identification_number",
    "old_identification_number",
    "name",
    "birthdate",
    "gender",
    "account_type",
    "level",
    "logout_uri",
    "unit_code",
)

# Each adapter's defaults, from the public client code described in docs/upstreams.md.
_DEFAULT_CLAIMS: dict[AdapterType, dict[str, Any]] = {
    "oidc": {
        "subject": "sub",
        "identification_number": "identification_number",
        "old_identification_number": "old_identification_number",
        "name": "name",
        "birthdate": "birthdate",
        "birthdate_format": "%Y-%m-%d",
        "gender": "gender",
        "level": "acr",
        "levels": {"urn:vneid:loa:level1": 1, "urn:vneid:loa:level2": 2, "1": 1, "2": 2},
        "unit_code": "address.commune_code",
    },
    "oauth2-userinfo": {
        "subject": "sub",
        "identification_number": "SoDinhDanh",
        "name": "HoVaTen",
        "birthdate": "NgayThangNamSinh",
        "birthdate_format": "%Y%m%d",
        "account_type": "LoaiTaiKhoan",
        "citizen_account_types": ["1"],
        "level": "acr",
        "levels": {"LoA1": 1, "LoA2": 2, "1": 1, "2": 2},
        "logout_uri": "logoutUri",
    },
    "vneid-gateway": {
        "subject": "citizenPid",
        "identification_number": "citizenPid",
        "name": "fullName",
        "birthdate": "birthDate",
        "birthdate_format": "%d/%m/%Y",
        "account_type": "accountType",
        "citizen_account_types": ["1"],
        "level": "accountLevel",
        "levels": {"1": 1, "2": 2},
    },
}
_DEFAULT_ACR_VALUES: dict[AdapterType, dict[int, str]] = {
    "oidc": {1: "urn:vneid:loa:level1", 2: "urn:vneid:loa:level2"},
    "oauth2-userinfo": {1: "LoA1", 2: "LoA2"},
    "vneid-gateway": {},  # the gateway's authorize takes no acr_values: the level is enforced on the result
}
# Paths of the mock's endpoints per mode, appended to the issuer when an endpoint is not set.
DEFAULT_PATHS: dict[AdapterType, dict[str, str]] = {
    "oidc": {},
    "oauth2-userinfo": {
        "authorization_endpoint": "/oauth2/authorize",
        "token_endpoint": "/oauth2/token",
        "userinfo_endpoint": "/oauth2/userinfo",
    },
    "vneid-gateway": {
        "authorization_endpoint": "/gateway/authorize",
        "token_endpoint": "/gateway/token",
        "userinfo_endpoint": "/gateway/userinfo",
    },
}
_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


class ClaimMapping(BaseModel):
    """Upstream claim names for each field of the neutral identity (None: the upstream does not give it)."""

    model_config = ConfigDict(extra="forbid")

    subject: str = "sub"
    identification_number: str | None = None
    old_identification_number: str | None = None
    name: str | None = None
    birthdate: str | None = None
    birthdate_format: str = "%Y-%m-%d"
    gender: str | None = None
    gender_values: dict[str, Literal["male", "female"]] = {"male": "male", "female": "female"}
    account_type: str | None = None
    citizen_account_types: list[str] = []
    level: str | None = None
    levels: dict[str, int] = {}
    default_level: int = Field(default=1, ge=1, le=2)
    logout_uri: str | None = None
    # The commune of the citizen's address (a code of the 2024 list), for accounts created at a first
    # login (issue 9). A dotted name reads a member of an object claim: "address.commune_code".
    unit_code: str | None = None
    # A login whose mapped identity lacks one of these is refused (a page with the hotline, an audit row).
    required: list[str] = ["identification_number"]

    @field_validator("birthdate_format")
    @classmethod
    def _parsable_format(cls, value: str) -> str:
        try:
            parsed = datetime.strptime(datetime(2001, 2, 3).strftime(value), value)
        except ValueError as exc:
            raise ValueError(f"birthdate_format {value!r} cannot parse a date: {exc}") from None
        if parsed.date() != datetime(2001, 2, 3).date():
            raise ValueError(f"birthdate_format {value!r} does not carry day, month and year")
        return value

    @field_validator("levels")
    @classmethod
    def _known_levels(cls, value: dict[str, int]) -> dict[str, int]:
        if any(level not in (1, 2) for level in value.values()):
            raise ValueError("levels map upstream values to 1 or 2")
        return value

    @model_validator(mode="after")
    def _required_are_mapped(self) -> ClaimMapping:
        for name in self.required:
            if name not in MAPPED_FIELDS:
                raise ValueError(f"required names {name!r}, which is not one of {', '.join(MAPPED_FIELDS)}")
            if name != "level" and getattr(self, name) is None:
                raise ValueError(f"{name} is required but mapped to no upstream claim")
        return self


class UpstreamConfig(BaseModel):
    """One upstream identity provider the citizen may choose on the login page."""

    model_config = ConfigDict(extra="forbid")

    id: str
    display_name: str = "VNeID"
    type: AdapterType = "oidc"
    # oidc: the issuer (discovery, the ID token's iss). Others: the base of endpoints left unset.
    issuer: str | None = None
    # What upstream_links.issuer holds for this upstream's identities: (link_issuer, subject) is the
    # identity. Defaults to the id; the upstream built from BROKER_VNEID_* keeps its issuer, as before.
    link_issuer: str | None = None
    client_id: str
    client_secret: str
    scope: str = "openid"
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    userinfo_endpoint: str | None = None
    # oidc: also ask the userinfo endpoint after the code exchange (OIDC Core §5.3). False when the upstream's
    # ID token carries every claim the mapping reads: one call to the upstream fewer per login. A claim
    # only userinfo gives (an optional one included, such as the old CMND number) is then never seen.
    userinfo: bool = True
    # None: basic for oidc; in the body for the others, as their public clients do.
    token_auth: Literal["client_secret_basic", "client_secret_post"] | None = None
    pkce: bool | None = None  # None: yes for oidc, no for the others (their public clients send none)
    acr_values: dict[int, str] | None = None  # level -> value asked upstream; None: the type's default
    claims: ClaimMapping | None = None  # None: the type's default mapping
    # vneid-gateway: the broker's RSA private key (PEM file or PEM text) and the data cipher's mode.
    private_key_file: Path | None = None
    private_key_pem: str | None = None
    cipher_mode: Literal["ecb", "cbc"] = "ecb"
    encrypted_code: bool = True
    # Ending the broker session ends the upstream one when it gave a logout URL (DVCQG's logoutUri).
    logout: Literal["front-channel", "back-channel", "none"] = "front-channel"
    connect_timeout_seconds: float = Field(default=3.0, gt=0)
    read_timeout_seconds: float = Field(default=10.0, gt=0)
    leeway_seconds: int = Field(default=60, ge=0)
    jwks_min_refetch_seconds: int = Field(default=30, ge=0)
    jwks_max_age_seconds: int = Field(default=900, ge=1)
    metadata_ttl_seconds: int = Field(default=3600, ge=0)
    breaker_failures: int = Field(default=5, ge=1)
    breaker_cooldown_seconds: int = Field(default=30, ge=1)

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if not _ID.fullmatch(value):
            raise ValueError("id: 1-32 lower-case letters, digits, '-' or '_'")
        return value

    @field_validator("issuer")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _complete_for_its_type(self) -> UpstreamConfig:
        if self.claims is None:
            self.claims = ClaimMapping(**_DEFAULT_CLAIMS[self.type])
        if self.acr_values is None:
            self.acr_values = dict(_DEFAULT_ACR_VALUES[self.type])
        if self.pkce is None:
            self.pkce = self.type == "oidc"
        if self.token_auth is None:
            self.token_auth = "client_secret_basic" if self.type == "oidc" else "client_secret_post"
        if self.link_issuer is None:
            self.link_issuer = self.id
        if not self.userinfo and self.type != "oidc":
            raise ValueError(
                f"upstream {self.id!r}: only an oidc upstream gives the identity without userinfo"
            )
        if self.type == "oidc":
            if not self.issuer:
                raise ValueError(f"upstream {self.id!r}: an oidc upstream needs its issuer")
            return self
        for name, path in DEFAULT_PATHS[self.type].items():
            if getattr(self, name) is None:
                if not self.issuer:
                    raise ValueError(f"upstream {self.id!r}: {name} is required (or an issuer to derive it)")
                setattr(self, name, self.issuer + path)
        if self.type == "vneid-gateway" and not (self.private_key_file or self.private_key_pem):
            raise ValueError(f"upstream {self.id!r}: a vneid-gateway upstream needs private_key_file or _pem")
        return self

    @property
    def mapping(self) -> ClaimMapping:
        assert self.claims is not None  # completed by the validator
        return self.claims

    @property
    def identity_issuer(self) -> str:
        assert self.link_issuer is not None  # completed by the validator
        return self.link_issuer


def check_unique(upstreams: list[UpstreamConfig]) -> list[UpstreamConfig]:
    if not upstreams:
        raise ValueError("at least one upstream is needed")
    ids = [upstream.id for upstream in upstreams]
    for attribute, values in (("id", ids), ("link_issuer", [u.identity_issuer for u in upstreams])):
        duplicates = sorted({value for value in values if values.count(value) > 1})
        if duplicates:
            raise ValueError(f"upstreams: {attribute} {', '.join(duplicates)} used twice")
    return upstreams
