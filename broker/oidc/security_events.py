"""Security Event Tokens (RFC 8417) for the broker's account events, as SSF 1.0 §4 profiles them: ``typ``
``secevent+jwt``, no ``sub`` and no ``exp``, the subject in ``sub_id`` (RFC 9493), one event per SET, and
the same ``txn`` on every SET that one change caused. Pure: the caller maps public subs to the client's.

Which outbox row becomes which events:
- ``account.merged`` → RISC ``identifier-changed`` for the retired sub (``new-value``: the kept sub), then the
  broker's ``account-merged`` carrying both;
- ``account.frozen`` / ``account.unfrozen`` → RISC ``account-disabled`` / ``account-enabled``;
- ``account.identifier_changed`` → RISC ``identifier-changed`` (the number itself never travels);
- ``account.linked`` → the broker's ``account-linked``;
- ``session.revoked`` → CAEP ``session-revoked`` (a complex subject: the user and the session ``sid``);
- ``account.level_changed`` → CAEP ``assurance-level-change``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from broker.oidc import ssf
from broker.oidc.assurance import ACR_LEVEL_1, ACR_LEVEL_2

TYP = "secevent+jwt"
# CAEP §2 "namespace": an alias agreed between the parties; the levels are the broker's acr values.
LEVEL_NAMESPACE = "urn:vneid:loa"
_LEVELS = {1: ACR_LEVEL_1, 2: ACR_LEVEL_2}
_FROZEN_REASON = {
    "en": "Legacy citizen account not linked to VNeID (letter 3701/VPCP-KSTT)",
    "vi": "Tài khoản công dân cũ chưa liên kết VNeID (công văn 3701/VPCP-KSTT)",
}

Event = tuple[str, dict[str, Any], dict[str, Any]]  # (event type URI, sub_id, event object)


def events_for(
    event_type: str,
    sub: str,
    data: dict[str, Any],
    *,
    issuer: str,
    occurred_at: int,
    subject_of: Callable[[str], str],
) -> list[Event]:
    """The SSF events an outbox row stands for, subjects already as the client knows them."""

    def subject(public_sub: str) -> dict[str, str]:
        return ssf.iss_sub(issuer, subject_of(public_sub))

    stamp: dict[str, Any] = {"event_timestamp": occurred_at}
    if event_type == "account.merged":
        kept, retired = str(data.get("surviving_sub", sub)), str(data["retired_sub"])
        return [
            (ssf.IDENTIFIER_CHANGED, subject(retired), {"new-value": subject_of(kept)} | stamp),
            (
                ssf.ACCOUNT_MERGED,
                subject(kept),
                {"surviving_sub_id": subject(kept), "retired_sub_id": subject(retired)} | stamp,
            ),
        ]
    if event_type == "account.frozen":
        return [
            (
                ssf.ACCOUNT_DISABLED,
                subject(sub),
                {"initiating_entity": "policy", "reason_admin": _FROZEN_REASON} | stamp,
            )
        ]
    if event_type == "account.unfrozen":
        return [(ssf.ACCOUNT_ENABLED, subject(sub), dict(stamp))]
    if event_type == "account.identifier_changed":
        return [(ssf.IDENTIFIER_CHANGED, subject(sub), {"identifier": data.get("identifier")} | stamp)]
    if event_type == "account.linked":
        return [(ssf.ACCOUNT_LINKED, subject(sub), dict(stamp))]
    if event_type == "session.revoked":
        sub_id = {"format": "complex", "user": subject(sub), "session": ssf.opaque(str(data["sid"]))}
        entity = "policy" if data.get("reason") == "account_frozen" else "user"
        return [(ssf.SESSION_REVOKED, sub_id, {"initiating_entity": entity} | stamp)]
    if event_type == "account.level_changed":
        previous, current = int(data["previous_level"]), int(data["current_level"])
        return [
            (
                ssf.ASSURANCE_LEVEL_CHANGE,
                subject(sub),
                {
                    "namespace": LEVEL_NAMESPACE,
                    "current_level": _LEVELS.get(current, str(current)),
                    "previous_level": _LEVELS.get(previous, str(previous)),
                    "change_direction": "increase" if current > previous else "decrease",
                }
                | stamp,
            )
        ]
    return []


def claims(*, issuer: str, audience: str, jti: str, iat: int, txn: str, event: Event) -> dict[str, Any]:
    """RFC 8417 §2.2 with SSF §4.1: iss, aud, jti, iat, txn, sub_id, events; never sub or exp."""
    uri, sub_id, body = event
    return {
        "iss": issuer,
        "aud": audience,
        "jti": jti,
        "iat": iat,
        "txn": txn,
        "sub_id": sub_id,
        "events": {uri: body},
    }


def verification(stream_id: str, state: str | None) -> Event:
    """SSF §8.1.4.1: the subject is the stream itself."""
    return (ssf.VERIFICATION, ssf.opaque(stream_id), {"state": state} if state is not None else {})
