"""Issue 10: upstream configuration is checked when the settings load, with a message that names the
upstream and the fault; the claim mapping and the levels turn each shape's claims into one identity."""

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from broker.errors import IdentityRefused
from broker.settings import Settings
from broker.upstream.adapters.base import UpstreamIdentity
from broker.upstream.config import UpstreamConfig
from broker.upstream.mapping import to_verified

NOW = datetime(2024, 6, 15, 8, 0, tzinfo=UTC)
SECRET = {"client_id": "broker", "client_secret": "s"}


def _refused(**values: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        Settings(**values)
    return str(caught.value)


def test_without_upstream_settings_the_one_upstream_is_vneid_from_the_vneid_settings() -> None:
    (only,) = Settings(vneid_issuer="https://vneid.example/").upstream_configs()
    assert (only.id, only.type, only.issuer, only.identity_issuer) == (
        "vneid",
        "oidc",
        "https://vneid.example",
        "https://vneid.example",  # existing links keep their key
    )
    assert only.pkce and only.token_auth == "client_secret_basic"


@pytest.mark.parametrize(
    ("upstream", "message"),
    [
        ({"id": "x", "type": "oidc"}, "needs its issuer"),
        ({"id": "x", "type": "oauth2-userinfo"}, "authorization_endpoint is required"),
        ({"id": "x", "type": "vneid-gateway", "issuer": "https://g.example"}, "needs private_key_file"),
        ({"id": "X Y", "type": "oidc", "issuer": "https://a"}, "lower-case"),
        ({"id": "x", "type": "saml", "issuer": "https://a"}, "type"),
        (
            {"id": "x", "issuer": "https://a", "claims": {"birthdate": "d", "birthdate_format": "%Y"}},
            "does not carry day, month and year",
        ),
        ({"id": "x", "issuer": "https://a", "claims": {"required": ["name"]}}, "name is required but mapped"),
        ({"id": "x", "issuer": "https://a", "claims": {"required": ["shoe_size"]}}, "shoe_size"),
        ({"id": "x", "issuer": "https://a", "claims": {"levels": {"LoA3": 3}}}, "levels map"),
    ],
)
def test_a_bad_upstream_stops_the_start_with_a_clear_message(upstream: dict[str, Any], message: str) -> None:
    assert message in _refused(upstreams=[{**SECRET, **upstream}])


def test_two_upstreams_with_one_id_are_refused() -> None:
    twice = [{**SECRET, "id": "a", "issuer": "https://a"}, {**SECRET, "id": "a", "issuer": "https://b"}]
    assert "id a used twice" in _refused(upstreams=twice)


def test_production_refuses_plain_http_upstreams() -> None:
    message = _refused(
        environment="production",
        secret_key="x" * 40,
        issuer="https://sso.example",
        upstreams=[{**SECRET, "id": "a", "issuer": "http://a.example"}],
    )
    assert "must be https in production" in message


def test_an_upstreams_file_in_yaml_is_read_and_checked(tmp_path: Path) -> None:
    good = tmp_path / "upstreams.yaml"
    good.write_text(
        "upstreams:\n"
        "  - {id: vneid, type: oidc, issuer: 'https://vneid.example', client_id: b, client_secret: s}\n"
        "  - id: dvcqg\n    type: oauth2-userinfo\n    display_name: Cổng DVCQG\n"
        "    issuer: https://sso.dichvucong.example\n    client_id: b\n    client_secret: s\n",
        encoding="utf-8",
    )
    configs = Settings(upstreams_file=good).upstream_configs()
    assert [c.id for c in configs] == ["vneid", "dvcqg"]
    assert configs[1].token_endpoint == "https://sso.dichvucong.example/oauth2/token"
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {id: x, type: oauth2-userinfo, client_id: b, client_secret: s}\n", encoding="utf-8")
    assert "BROKER_UPSTREAMS_FILE" in _refused(upstreams_file=bad)


def _portal() -> UpstreamConfig:
    return UpstreamConfig(id="dvcqg", type="oauth2-userinfo", issuer="https://sso.example", **SECRET)


PORTAL_CLAIMS = {
    "sub": "abc",
    "LoaiTaiKhoan": "1",
    "HoVaTen": "Nguyễn Văn An",
    "SoDinhDanh": "001085012345",
    "NgayThangNamSinh": "19850312",
    "acr": "LoA2",
    "logoutUri": "https://sso.example/oauth2/logout?token=t",
}


def test_the_portals_vietnamese_fields_map_to_the_identity() -> None:
    identity = to_verified(UpstreamIdentity("dvcqg", "abc", dict(PORTAL_CLAIMS)), _portal(), NOW)
    assert (identity.issuer, identity.subject) == ("dvcqg", "abc")
    assert identity.identification_number == "001085012345"
    assert identity.birthdate == date(1985, 3, 12)
    assert identity.level == 2
    assert identity.extra["logout_uri"].startswith("https://sso.example/")
    assert identity.auth_time == NOW


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"SoDinhDanh": None}, "claim_missing:identification_number"),
        ({"SoDinhDanh": "  "}, "claim_missing:identification_number"),
        ({"SoDinhDanh": "123"}, "claims_invalid"),
        ({"LoaiTaiKhoan": "2"}, "account_type_not_citizen"),
    ],
)
def test_an_identity_the_broker_cannot_take_is_refused_with_a_reason(
    changes: dict[str, Any], reason: str
) -> None:
    claims = {k: v for k, v in {**PORTAL_CLAIMS, **changes}.items() if v is not None}
    with pytest.raises(IdentityRefused) as caught:
        to_verified(UpstreamIdentity("dvcqg", "abc", claims), _portal(), NOW)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("value", "level"), [("LoA1", 1), ("LoA2", 2), ("2", 2), (2, 2), ("LoA9", 1), (None, 1)]
)
def test_levels_map_and_an_unknown_level_is_the_lowest(value: Any, level: int) -> None:
    claims = {**PORTAL_CLAIMS, "acr": value}
    assert to_verified(UpstreamIdentity("dvcqg", "abc", claims), _portal(), NOW).level == level


def test_the_gateways_fields_and_date_format() -> None:
    config = UpstreamConfig(
        id="gw", type="vneid-gateway", issuer="https://g.example", private_key_pem="x", **SECRET
    )
    claims = {
        "citizenPid": "001085012345",
        "fullName": "A",
        "birthDate": "12/03/1985",
        "accountType": "1",
        "accountLevel": "2",
    }
    identity = to_verified(UpstreamIdentity("gw", "001085012345", claims), config, NOW)
    assert (identity.birthdate, identity.level) == (date(1985, 3, 12), 2)


@pytest.mark.parametrize(
    ("value", "birthdate"),
    [
        ("1985-03-12", date(1985, 3, 12)),
        ("1985-3-12", date(1985, 3, 12)),  # not zero-padded: strptime still reads it
        ("1985-02-30", None),  # no such day
        ("1985-13-01", None),
        ("12/03/1985", None),  # another format than the upstream's
        ("", None),
    ],
)
def test_an_oidc_upstreams_birthdate_is_read_as_its_format_says(value: str, birthdate: date | None) -> None:
    config = UpstreamConfig(id="vneid", type="oidc", issuer="https://v.example", **SECRET)
    claims = {"sub": "s", "identification_number": "001085012345", "name": "A", "birthdate": value}
    identity = to_verified(UpstreamIdentity("vneid", "s", claims), config, NOW)
    assert identity.birthdate == birthdate
