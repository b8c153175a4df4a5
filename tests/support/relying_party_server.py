"""A tiny real relying party back end on loopback: it receives back-channel logout tokens, and serves its
own JWKS (for private_key_jwt with ``jwks_uri``) and a sector identifier document (pairwise subjects)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.servers import LiveServer


@dataclass
class ReceiverState:
    logout_tokens: list[str] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)
    fail_next: int = 0  # answer 500 to this many deliveries first
    jwks: dict[str, Any] = field(default_factory=lambda: {"keys": []})
    sector_document: list[str] = field(default_factory=list)


class RelyingPartyServer:
    def __init__(self) -> None:
        self.state = ReceiverState()
        app = Starlette(
            routes=[
                Route("/backchannel-logout", self._backchannel, methods=["POST"]),
                Route("/jwks", self._jwks),
                Route("/sector.json", self._sector),
            ]
        )
        self._server = LiveServer(app)
        self.url = self._server.url

    def start(self) -> RelyingPartyServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def backchannel_logout_uri(self) -> str:
        return f"{self.url}/backchannel-logout"

    async def _backchannel(self, request: Request) -> Response:
        form = await request.form()
        self.state.content_types.append(request.headers.get("content-type", ""))
        if self.state.fail_next > 0:
            self.state.fail_next -= 1
            return Response("unavailable", status_code=500)
        token = form.get("logout_token")
        if not isinstance(token, str):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        self.state.logout_tokens.append(token)
        # Back-Channel Logout 1.0 §2.8: 200 with Cache-Control: no-store.
        return Response(status_code=200, headers={"Cache-Control": "no-store"})

    async def _jwks(self, _: Request) -> Response:
        return Response(json.dumps(self.state.jwks), media_type="application/json")

    async def _sector(self, _: Request) -> Response:
        return Response(json.dumps(self.state.sector_document), media_type="application/json")
