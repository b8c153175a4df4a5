"""A Shared Signals receiver written from the specifications with a different JOSE stack than the broker's
(joserfc, not PyJWT): it reads the transmitter metadata, verifies every SET against ``jwks_uri`` and checks
its shape (RFC 8417, SSF 1.0 §4, RISC, CAEP, RFC 9493), and can run a real push endpoint on loopback
(RFC 8935) that deduplicates by ``jti``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
from joserfc import jws
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.servers import LiveServer

RISC = "https://schemas.openid.net/secevent/risc/event-type/"
CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
VERIFICATION = "https://schemas.openid.net/secevent/ssf/event-type/verification"
IDENTIFIER_CHANGED = RISC + "identifier-changed"
ACCOUNT_DISABLED = RISC + "account-disabled"
ACCOUNT_ENABLED = RISC + "account-enabled"
SESSION_REVOKED = CAEP + "session-revoked"
ASSURANCE_LEVEL_CHANGE = CAEP + "assurance-level-change"
ACCOUNT_MERGED = "urn:vneid-broker:secevent:event-type:account-merged"
ACCOUNT_LINKED = "urn:vneid-broker:secevent:event-type:account-linked"
PUSH, POLL = "urn:ietf:rfc:8935", "urn:ietf:rfc:8936"
EVERY_EVENT = [
    IDENTIFIER_CHANGED,
    ACCOUNT_DISABLED,
    ACCOUNT_ENABLED,
    SESSION_REVOKED,
    ASSURANCE_LEVEL_CHANGE,
    ACCOUNT_MERGED,
    ACCOUNT_LINKED,
]


def _check_iss_sub(subject: Any, issuer: str) -> None:
    assert isinstance(subject, dict) and subject.get("format") == "iss_sub", subject  # RFC 9493 §3.2.4
    assert subject["iss"] == issuer and isinstance(subject["sub"], str) and subject["sub"]
    assert set(subject) == {"format", "iss", "sub"}, subject


def check_event(uri: str, event: dict[str, Any], sub_id: dict[str, Any], issuer: str) -> None:
    """Each event's members as its specification names them; never an identification number, e-mail or phone."""
    assert isinstance(event.get("event_timestamp", 0), int)
    if uri == VERIFICATION:
        assert sub_id["format"] == "opaque" and set(sub_id) == {"format", "id"}  # SSF §8.1.4.1
        assert set(event) <= {"state"}
        return
    if uri == SESSION_REVOKED:
        assert sub_id["format"] == "complex", sub_id  # SSF §3.3: user and session
        _check_iss_sub(sub_id["user"], issuer)
        assert sub_id["session"]["format"] == "opaque" and sub_id["session"]["id"]
        assert event["initiating_entity"] in ("admin", "user", "policy", "system")  # CAEP §2
        assert set(event) <= {"initiating_entity", "event_timestamp", "reason_admin", "reason_user"}
        return
    else:
        _check_iss_sub(sub_id, issuer)
    if uri == IDENTIFIER_CHANGED:
        assert set(event) <= {"new-value", "identifier", "event_timestamp"}, event  # RISC §2.5
        if "new-value" in event:
            assert isinstance(event["new-value"], str)
    elif uri == ACCOUNT_DISABLED:
        assert event.get("reason") in (None, "hijacking", "bulk-account"), event  # RISC §2.3
        assert event["initiating_entity"] == "policy"
        assert set(event["reason_admin"]) >= {"en"}
    elif uri == ACCOUNT_ENABLED:
        assert set(event) <= {"event_timestamp"}
    elif uri == ASSURANCE_LEVEL_CHANGE:
        assert isinstance(event["namespace"], str) and isinstance(event["current_level"], str)  # CAEP §3.4
        assert event.get("change_direction") in ("increase", "decrease")
        assert isinstance(event["previous_level"], str)
    elif uri == ACCOUNT_MERGED:
        _check_iss_sub(event["surviving_sub_id"], issuer)
        _check_iss_sub(event["retired_sub_id"], issuer)
        assert event["surviving_sub_id"] == sub_id
    elif uri == ACCOUNT_LINKED:
        assert set(event) <= {"event_timestamp"}
    else:
        raise AssertionError(f"unexpected event type {uri}")


@dataclass
class Receiver:
    """What a relying party knows: the transmitter's issuer and its own client credentials."""

    issuer: str
    client_id: str
    client_secret: str
    metadata: dict[str, Any] = field(default_factory=dict)
    keys: KeySet | None = None

    @property
    def auth(self) -> tuple[str, str]:
        return (self.client_id, self.client_secret)

    async def discover(self, http: httpx.AsyncClient) -> dict[str, Any]:
        response = await http.get(f"{self.issuer}/.well-known/ssf-configuration")
        assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
        self.metadata = response.json()
        assert self.metadata["issuer"] == self.issuer
        self.keys = KeySet.import_key_set((await http.get(self.metadata["jwks_uri"])).json())
        return self.metadata

    def verify(self, token: str) -> dict[str, Any]:
        """RFC 8417 §2 with SSF 1.0 §4.1: typed, signed by a published key, no sub, no exp, one event."""
        assert self.keys is not None, "discover() first"
        compact = jws.deserialize_compact(token, self.keys, algorithms=["RS256", "ES256"])
        header = compact.headers()
        assert header["typ"] == "secevent+jwt" and header.get("kid"), header
        claims: dict[str, Any] = json.loads(compact.payload)
        assert claims["iss"] == self.issuer
        assert claims["aud"] == self.client_id
        assert "sub" not in claims and "exp" not in claims, claims
        assert isinstance(claims["jti"], str) and isinstance(claims["iat"], int)
        assert isinstance(claims["txn"], str) and claims["txn"]
        assert isinstance(claims["events"], dict) and len(claims["events"]) == 1, claims
        ((uri, event),) = claims["events"].items()
        check_event(uri, event, claims["sub_id"], self.issuer)
        return claims

    async def create_stream(self, http: httpx.AsyncClient, **body: Any) -> httpx.Response:
        return await http.post(self.metadata["configuration_endpoint"], json=body, auth=self.auth)

    async def poll(self, http: httpx.AsyncClient, endpoint: str, **body: Any) -> dict[str, Any]:
        """RFC 8936 §2.4; returns the verified claims by jti, and the raw answer under ``_answer``."""
        response = await http.post(endpoint, json=body, auth=self.auth)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert set(answer) <= {"sets", "moreAvailable"}
        verified = {}
        for jti, token in answer["sets"].items():
            claims = self.verify(token)
            assert claims["jti"] == jti
            verified[jti] = claims
        return {"sets": verified, "moreAvailable": answer.get("moreAvailable", False)}


def event_of(claims: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ((uri, event),) = claims["events"].items()
    return uri, event


@dataclass
class PushState:
    received: list[str] = field(default_factory=list)  # jti of every POST, duplicates included
    processed: dict[str, dict[str, Any]] = field(default_factory=dict)  # jti -> claims, once each
    content_types: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # SETs this receiver refused (must stay empty)
    # Process the SET but answer 503 this many times (the answer is lost: the transmitter must resend).
    lose_answers: int = 0


class PushReceiver:
    """A real RFC 8935 endpoint on loopback."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.state = PushState()
        self._server = LiveServer(Starlette(routes=[Route("/ssf/events", self._push, methods=["POST"])]))
        self.url = f"{self._server.url}/ssf/events"

    def start(self) -> PushReceiver:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    async def _push(self, request: Request) -> Response:
        self.state.content_types.append(request.headers.get("content-type", ""))
        token = (await request.body()).decode()
        try:
            claims = self.receiver.verify(token)
        except Exception as exc:  # RFC 8935 §2.3: a SET the receiver cannot accept
            self.state.errors.append(repr(exc))
            return JSONResponse({"err": "invalid_request", "description": str(exc)[:100]}, status_code=400)
        self.state.received.append(claims["jti"])
        self.state.processed.setdefault(claims["jti"], claims)  # deduplicated by jti
        if self.state.lose_answers > 0:
            self.state.lose_answers -= 1
            return Response("unavailable", status_code=503)
        return Response(status_code=202)
