"""Settings, read from ``MOCK_VNEID_*`` environment variables."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_WILDCARD_HOSTS = {"0.0.0.0", "::", ""}  # noqa: S104 - names, not a bind


def packaged_citizens_file() -> Path:
    return Path(str(files("mock_vneid").joinpath("seed", "citizens.json")))


class MockSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOCK_VNEID_", extra="ignore")

    issuer: str = "http://127.0.0.1:9000"
    host: str = "127.0.0.1"
    port: int = 9000
    # DESIGN.md names the variable MOCK_VNEID_CITIZENS; the field's own name works too.
    citizens_file: Path = Field(
        default_factory=packaged_citizens_file,
        validation_alias=AliasChoices("MOCK_VNEID_CITIZENS", "MOCK_VNEID_CITIZENS_FILE", "citizens_file"),
    )
    key_file: Path = Path("var/mock_vneid/signing_key.pem")
    client_id: str = "broker-dev"
    client_secret: str = "broker-dev-secret"
    redirect_uris: list[str] = ["http://127.0.0.1:8000/login/vneid/callback"]
    # Only keys the opaque `sub`: changing it changes every citizen's subject.
    subject_secret: str = "mock-vneid-dev-subject-secret-not-for-production"
    code_ttl_seconds: int = 60
    access_token_ttl_seconds: int = 300
    id_token_ttl_seconds: int = 300
    login_ttl_seconds: int = 600
    test_controls: bool = False
    access_log: bool = True  # uvicorn's line per request; the benchmark turns it off
    # Which shape the mock speaks (issue 10): clean OIDC, the national portal's OAuth 2.0 + userinfo, or
    # VNeID's encrypted gateway. The gateway encrypts for the relying party's RSA public key.
    mode: Literal["oidc", "oauth2-userinfo", "vneid-gateway"] = "oidc"
    rp_public_key_file: Path | None = None
    rp_public_key_pem: str | None = None
    gateway_cipher_mode: Literal["ecb", "cbc"] = "ecb"
    gateway_encrypt_code: bool = True
    # Issue 11: the name the login page shows for client_id (people read names, not ids).
    client_name: str = "Cổng xác thực tập trung (dịch vụ công)"

    @field_validator("issuer")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        # Endpoint URLs are built by appending paths; "iss" must match the discovery document exactly.
        return value.rstrip("/")

    @model_validator(mode="after")
    def _issuer_follows_the_listener(self) -> MockSettings:
        # Unless set, the issuer is where the mock listens, so MOCK_VNEID_PORT=9100 alone stays coherent.
        if "issuer" not in self.model_fields_set:
            host = "127.0.0.1" if self.host in _WILDCARD_HOSTS else self.host
            self.issuer = f"http://{host}:{self.port}"
        return self
