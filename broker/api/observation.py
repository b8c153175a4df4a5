"""Every request observed once, at the edge (``broker.api.edge``): its id, its log line, its latency.

The caller's ``X-Request-ID`` is taken (or one is made), returned on every response (refusals of the
body-size limit and the 500 page of a bug included), and put in the context that every log line and every
outgoing call read; the request is recorded under its route template, never its raw path.
"""

from __future__ import annotations

import base64
import logging
import os
import random
import re
import secrets
import time
from typing import Any
from urllib.parse import unquote_plus

from starlette.types import Scope

from broker import logs
from broker.metrics import Metrics

log = logging.getLogger("broker.request")

HEADER = b"x-request-id"
_VALID_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_CLIENT_ID = re.compile(r"[A-Za-z0-9._:\-]{1,100}")
# The first ``client_id`` of a query, as ``parse_qs`` would give it: a parameter's name is made of unreserved
# characters, which no encoder percent-encodes (RFC 3986 §2.3).
_QUERY_CLIENT_ID = re.compile(rb"(?:^|&)client_id=([^&]*)")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Asked every few seconds by probes and Prometheus: their lines would drown the rest at INFO.
_QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})


def _headers(scope: Scope) -> tuple[str | None, str | None]:
    """The caller's ``X-Request-ID`` and ``Authorization``, in one pass over the headers."""
    given = authorization = None
    for key, value in scope.get("headers", ()):
        name = key.lower()
        if name == HEADER and given is None:
            given = value.decode("latin-1")
        elif name == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
    return given, authorization


# A request id correlates log lines; it guards nothing, so it need not come from the kernel's generator:
# asking getrandom() for every request was 7 % of a JWKS answer (bench/README.md). Seeded from it once.
_ids = random.Random(secrets.randbits(128))  # noqa: S311
# A forked worker must not repeat its parent's sequence.
os.register_at_fork(after_in_child=lambda: _ids.seed(secrets.randbits(128)))


def _request_id(given: str | None) -> str:
    if given is not None and _VALID_ID.fullmatch(given):
        return given
    # 128 random bits in base64url: unlike hex, practically never a 9-digit run that logs would mask.
    return base64.urlsafe_b64encode(_ids.getrandbits(128).to_bytes(16, "big")).rstrip(b"=").decode()


def _client_id(scope: Scope, authorization: str | None) -> str | None:
    """The relying party a request is about, when it says so in the query or in HTTP Basic credentials."""
    # Only the one parameter is read: parsing every query string (a VNeID callback's, a login's) cost
    # more than the rest of the observation (issue 7).
    found = _QUERY_CLIENT_ID.search(scope.get("query_string", b""))
    candidate = (unquote_plus(found.group(1).decode("latin-1")) or None) if found else None
    if candidate is None and authorization and authorization[:6].lower() == "basic ":
        try:
            candidate = base64.b64decode(authorization[6:]).decode().split(":", 1)[0]
        except ValueError:
            candidate = None
    return candidate if candidate and _CLIENT_ID.fullmatch(candidate) else None


def route_template(scope: Scope) -> str:
    """The matched route's template (``/admin/accounts/{sub}``), the mount's prefix, or ``unmatched``."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    root = scope.get("root_path") or ""
    if root and scope.get("app_root_path", "") != root:
        return root
    return "unmatched"


class Observed:
    """One request under observation: its id (as sent back), its log fields, when it began."""

    __slots__ = ("_fields_token", "_id_token", "encoded_id", "fields", "started")

    def __init__(self, request_id: str, fields: dict[str, str]) -> None:
        self.encoded_id = request_id.encode()
        self.fields = fields
        self._id_token = logs.request_id.set(request_id)
        self._fields_token = logs.request_fields.set(fields)
        self.started = time.perf_counter()

    def stamp(self, headers: list[tuple[bytes, bytes]], scope: Scope) -> list[tuple[bytes, bytes]]:
        """The answer's headers with this request's id, in place of any the app set itself."""
        if any(name.lower() == HEADER for name, _ in headers):
            headers = [(name, value) for name, value in headers if name.lower() != HEADER]
        headers.append((HEADER, self.encoded_id))
        self.fields["route"] = route_template(scope)
        return headers

    def reset(self) -> None:
        logs.request_fields.reset(self._fields_token)
        logs.request_id.reset(self._id_token)


class Observation:
    """Every request observed once (``broker.api.edge``): it takes the caller's ``X-Request-ID`` (or makes
    one), which every answer carries and every log line and outgoing call reads, and records the request
    under its route template, never its raw path."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        # The scrape's own series exists from the start, so scraping never changes the set of series.
        metrics.http_duration.labels("GET", "/metrics", "2xx")
        # Each series' child, looked up once: ``labels()`` takes a lock and validates on every call. Bounded:
        # methods, route templates and status classes are finite sets.
        self._series: dict[tuple[str, str, int], Any] = {}

    def begin(self, scope: Scope) -> Observed:
        given, authorization = _headers(scope)
        fields: dict[str, str] = {}
        client_id = _client_id(scope, authorization)
        if client_id:
            fields["client_id"] = client_id
        return Observed(_request_id(given), fields)

    def end(self, observed: Observed, scope: Scope, status: int) -> None:
        """The request's latency and log line, its context reset."""
        elapsed = time.perf_counter() - observed.started
        route = observed.fields.get("route") or route_template(scope)
        method = scope.get("method", "GET")
        self._series_for(method, route, status // 100).observe(elapsed)
        level = logging.DEBUG if route in _QUIET_ROUTES and status < 500 else logging.INFO
        if log.isEnabledFor(level):
            log.log(
                level,
                "%s %s %s",
                method,
                scope.get("path", ""),
                status,
                extra={
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 1),
                    "outcome": "ok" if status < 400 else ("refused" if status < 500 else "error"),
                },
            )
        observed.reset()

    def _series_for(self, method: str, route: str, status_class: int) -> Any:
        # Keyed by the label, never the raw method: a caller inventing methods must not grow the cache.
        key = (method if method in _METHODS else "other", route, status_class)
        series = self._series.get(key)
        if series is None:
            series = self.metrics.http_duration.labels(key[0], route, f"{status_class}xx")
            self._series[key] = series
        return series
