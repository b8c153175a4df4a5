"""The Shared Signals grammar without a server: every outbox kind maps to the events its specification
names, SETs never carry sub or exp, and bad poll and stream bodies are refused with a reason."""

from __future__ import annotations

import pytest

from broker.oidc import security_events, set_poll, ssf

ISSUER = "https://sso.example.gov.vn"


def _events(kind: str, data: dict[str, object]) -> list[security_events.Event]:
    return security_events.events_for(
        kind, "kept", data, issuer=ISSUER, occurred_at=1719766800, subject_of=lambda sub: f"rp-{sub}"
    )


def test_each_outbox_kind_becomes_the_events_of_its_specification() -> None:
    merged = _events("account.merged", {"surviving_sub": "kept", "retired_sub": "old"})
    assert [uri for uri, _, _ in merged] == [ssf.IDENTIFIER_CHANGED, ssf.ACCOUNT_MERGED]
    assert merged[0][1] == {"format": "iss_sub", "iss": ISSUER, "sub": "rp-old"}
    assert merged[0][2]["new-value"] == "rp-kept"
    assert merged[1][2]["retired_sub_id"]["sub"] == "rp-old"
    assert [uri for uri, _, _ in _events("account.frozen", {})] == [ssf.ACCOUNT_DISABLED]
    assert "reason" not in _events("account.frozen", {})[0][2]  # RISC knows only hijacking, bulk-account
    assert [uri for uri, _, _ in _events("account.unfrozen", {})] == [ssf.ACCOUNT_ENABLED]
    assert [uri for uri, _, _ in _events("account.linked", {})] == [ssf.ACCOUNT_LINKED]
    revoked = _events("session.revoked", {"sid": "s-1", "reason": "logout"})
    assert revoked[0][1]["session"] == {"format": "opaque", "id": "s-1"}
    assert revoked[0][2]["initiating_entity"] == "user"
    level = _events("account.level_changed", {"previous_level": 2, "current_level": 1})[0][2]
    assert (level["previous_level"], level["current_level"], level["change_direction"]) == (
        "urn:vneid:loa:level2",
        "urn:vneid:loa:level1",
        "decrease",
    )
    assert _events("account.something_else", {}) == []


def test_a_set_has_the_claims_of_rfc_8417_and_never_sub_or_exp() -> None:
    event = _events("account.unfrozen", {})[0]
    claims = security_events.claims(issuer=ISSUER, audience="rp", jti="j", iat=1, txn="t", event=event)
    assert set(claims) == {"iss", "aud", "jti", "iat", "txn", "sub_id", "events"}
    assert list(claims["events"]) == [ssf.ACCOUNT_ENABLED]


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"maxEvents": -1},
        {"maxEvents": True},
        {"maxEvents": "10"},
        {"returnImmediately": "yes"},
        {"ack": "jti-1"},
        {"ack": [1]},
        {"setErrs": []},
        {"setErrs": {"jti-1": {"description": "no err"}}},
    ],
)
def test_bad_poll_requests_are_refused(body: object) -> None:
    with pytest.raises(ssf.InvalidStreamRequest):
        set_poll.parse(body)


def test_a_poll_request_is_read_as_rfc_8936_names_it() -> None:
    request = set_poll.parse(
        {"maxEvents": 5000, "returnImmediately": True, "ack": ["a"], "setErrs": {"b": {"err": "invalid_key"}}}
    )
    assert request.max_events == set_poll.MAX_MAX_EVENTS
    assert request.return_immediately and request.ack == ["a"]
    assert request.set_errs == {"b": ("invalid_key", "")}
    assert set_poll.response({}, False) == {"sets": {}, "moreAvailable": False}


def test_stream_bodies_keep_transmitter_fields_as_they_are() -> None:
    expected = {"iss": ISSUER, "aud": "rp", "events_delivered": [ssf.ACCOUNT_ENABLED]}
    with pytest.raises(ssf.InvalidStreamRequest):
        ssf.parse_stream_request({"stream_id": "s", "events_delivered": []}, expected=expected)
    parsed = ssf.parse_stream_request({"stream_id": "s", "iss": ISSUER}, expected=expected)
    assert parsed.events_requested is None and not parsed.has_delivery
    assert ssf.events_delivered(["urn:x", ssf.ACCOUNT_ENABLED, ssf.ACCOUNT_DISABLED]) == [
        ssf.ACCOUNT_DISABLED,
        ssf.ACCOUNT_ENABLED,
    ]
