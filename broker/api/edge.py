"""Every request's edge, as one ASGI layer: observed (``broker.api.observation``: its id, log line and
latency), its body capped (``broker.api.limits``), its answer given the security headers
(``broker.api.headers``) and, for benchmarks only, its database round trips (``X-DB-Round-Trips``), and
the last resort for bugs: an exception nothing else handled is logged once with its (redacted) traceback
and answered 500; a client that went away mid-body is not a bug and is not logged as one.

One layer, not one per concern: each layer was a coroutine around the request and another around each of
its answer's messages, five of them, a twentieth of a login's work outside the ID token's signature
(issue 7, twentieth round). The order is the layers' was: the 413 and the 500 page carry the security
headers and the request id like every answer, an id the app set gives way to the request's.
"""

from __future__ import annotations

import logging

from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from broker.api.headers import with_security_headers
from broker.api.limits import BodyTooLarge, limited_receive, refuse
from broker.api.observation import Observation
from broker.metrics import Metrics
from broker.store import round_trips

log = logging.getLogger("broker.request")

_ROUND_TRIPS = b"x-db-round-trips"


class Edge:
    def __init__(
        self, app: ASGIApp, metrics: Metrics, max_body_bytes: int, count_round_trips: bool = False
    ) -> None:
        self.app = app
        self.observation = Observation(metrics)
        self.max_body_bytes = max_body_bytes
        self.count_round_trips = count_round_trips

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        observed = self.observation.begin(scope)
        counted = round_trips.open_count() if self.count_round_trips else None
        status = 500
        started = False

        async def edge_send(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                headers = with_security_headers(message.get("headers", ()))
                if counted is not None:
                    headers.append((_ROUND_TRIPS, str(counted[0][0]).encode()))
                message["headers"] = observed.stamp(headers, scope)
            await send(message)

        try:
            capped = limited_receive(scope, receive, self.max_body_bytes)
            if capped is None:
                await refuse(edge_send)
            else:
                await self.app(scope, capped, edge_send)
        except BodyTooLarge:
            if not started:
                await refuse(edge_send)
        except ClientDisconnect:
            # The caller went away while sending its body: nobody is left to answer, and it is no bug.
            log.info("client disconnected before its request body was read")
        except Exception as error:
            log.exception("unexpected error (a bug): %s", type(error).__name__)
            if not started:
                from broker.api.errors import server_error

                response = server_error(Request(scope))
                await response(scope, receive, edge_send)
        finally:
            if counted is not None:
                round_trips.close_count(counted[1])
            self.observation.end(observed, scope, status)
