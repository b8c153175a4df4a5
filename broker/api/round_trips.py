"""Benchmarks only: every answer says in ``X-DB-Round-Trips`` how many database round trips it cost."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from broker.store import round_trips


class RoundTripHeader:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        holder, token = round_trips.open_count()

        async def send_with_count(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-db-round-trips", str(holder[0]).encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_count)
        finally:
            round_trips.close_count(token)
