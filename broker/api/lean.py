"""The token endpoint, introspection and userinfo, and a login's browser requests (/authorize, the login
page, the VNeID start and its callback), answered before FastAPI's routing (issue 7).

They are the relying parties' most frequent calls after discovery and JWKS, and every login's first steps.
Matching the path against every route, building the request object, solving the dependencies, the
endpoint call and the routing's exception layers were a fifth of a userinfo answer and half of the VNeID
start's. Here the token endpoints are answered from the raw request by the functions their routes call
(``broker.api.oidc``); the browser requests by the route functions themselves (``broker.api.oidc``,
``broker.api.login``), given what FastAPI's dependencies would have given: the cookies as
``broker.api.deps`` reads them, a form's fields as FastAPI reads a ``Form()`` field (its last value; an
empty one is absent). A form whose body is not URL-encoded or has no declared length (a browser's form
has both) goes on to the route, whose parsing and its errors stay FastAPI's.

These requests enter through ``LeanApp``, which sends them through the broker's own middleware alone, to
``LeanEndpoints`` inside it, so the answers keep everything that middleware gives every response: request
id, log line and metrics under the route's template, security headers, the body-size limit, the
trusted-proxy client address, the app's exception handlers (as the routes' exception layer calls them)
and the 500 page for a bug. Any other method or path goes to FastAPI and its routes, which stay (and stay
in ``openapi.yaml``).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from python_multipart.multipart import parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from broker.api import login, oidc
from broker.api.deps import get_browser, get_pages, get_session_cookie
from broker.registry import Registry

Answer = Callable[[Registry, Scope, Receive], Awaitable[Response]]


@dataclass(frozen=True)
class LeanRoute:
    """What the edge's observation reads of a matched route: its template."""

    path: str


def _header(scope: Scope, wanted: bytes) -> str | None:
    """The first value of a header, as Starlette's ``request.headers.get`` gives it."""
    for name, value in scope["headers"]:
        if name == wanted:
            return str(value.decode("latin-1"))
    return None


async def _body(receive: Receive) -> bytes:
    """As Starlette's ``request.body()``: a client gone mid-body is ``ClientDisconnect`` (the edge's)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _userinfo(registry: Registry, scope: Scope, _receive: Receive) -> JSONResponse:
    return await oidc.userinfo_answer(registry, _header(scope, b"authorization"))


async def _token(registry: Registry, scope: Scope, receive: Receive) -> JSONResponse:
    body = await _body(receive)
    content_type, authorization = _header(scope, b"content-type"), _header(scope, b"authorization")
    return await oidc.token_answer(registry, body, content_type, authorization)


async def _introspect(registry: Registry, scope: Scope, receive: Receive) -> JSONResponse:
    body = await _body(receive)
    content_type, authorization = _header(scope, b"content-type"), _header(scope, b"authorization")
    return await oidc.introspection_answer(registry, body, content_type, authorization)


async def _authorize(registry: Registry, scope: Scope, receive: Receive) -> Response:
    request = Request(scope, receive)
    browser, session_cookie = get_browser(request), get_session_cookie(request)
    return await oidc.authorize_get(request, registry, browser, session_cookie)


async def _login_page(registry: Registry, scope: Scope, receive: Receive) -> Response:
    request = Request(scope, receive)
    return await login.login_page(request, registry, get_pages(request), get_browser(request))


async def _vneid_start(registry: Registry, scope: Scope, receive: Receive) -> Response:
    request = Request(scope, receive)
    form = await request.form()
    flow, upstream = _form_field(form, "flow"), _form_field(form, "upstream")
    return await login.start_vneid(
        request, registry, get_pages(request), get_browser(request), flow, upstream
    )


async def _vneid_callback(registry: Registry, scope: Scope, receive: Receive) -> Response:
    request = Request(scope, receive)
    return await login.vneid_callback_endpoint(request, registry, get_pages(request), get_browser(request))


def _form_field(form: FormData, name: str) -> str | None:
    """A ``Form()`` field of type ``str | None`` as FastAPI reads it from a URL-encoded form."""
    value = form.get(name)
    return value if isinstance(value, str) and value != "" else None


def _url_encoded_form(scope: Scope) -> bool:
    """A URL-encoded body (by the parsing ``Request.form()`` does) of a declared length (which
    the edge's body cap has checked)."""
    content_type, length = _header(scope, b"content-type"), _header(scope, b"content-length")
    if content_type is None or length is None or not length.isdigit():
        return False
    return bool(parse_options_header(content_type)[0] == b"application/x-www-form-urlencoded")


def _always(_scope: Scope) -> bool:
    return True


_ANSWERS: dict[tuple[str, str], tuple[LeanRoute, Answer, Callable[[Scope], bool]]] = {
    ("GET", "/userinfo"): (LeanRoute("/userinfo"), _userinfo, _always),
    ("POST", "/userinfo"): (LeanRoute("/userinfo"), _userinfo, _always),
    ("POST", "/token"): (LeanRoute("/token"), _token, _always),
    ("POST", "/introspect"): (LeanRoute("/introspect"), _introspect, _always),
    ("GET", "/authorize"): (LeanRoute("/authorize"), _authorize, _always),
    ("GET", "/login"): (LeanRoute("/login"), _login_page, _always),
    ("POST", "/login/vneid"): (LeanRoute("/login/vneid"), _vneid_start, _url_encoded_form),
    ("GET", "/login/vneid/callback"): (LeanRoute("/login/vneid/callback"), _vneid_callback, _always),
}


def answers(scope: Scope) -> bool:
    """Whether ``LeanEndpoints`` answers this request itself."""
    found = _ANSWERS.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
    return found is not None and not scope.get("root_path") and found[2](scope)


class LeanApp(FastAPI):
    """The app, whose requests that ``LeanEndpoints`` answers go through the broker's own middleware (every
    layer the app added) to it, and nothing else: not FastAPI's and Starlette's
    layers in front of them, which have nothing to do for these requests (the 500 page of a bug and the
    body's cap are the edge's, ``broker.api.edge``, and the app's telemetry is off), and were a
    twentieth of a login's requests' own work (issue 7, fifteenth round). Every other request, and the
    lifespan, is FastAPI's as before."""

    _lean: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.root_path and answers(scope):
            if self._lean is None:
                self._lean = self._lean_stack()
            scope["app"] = self  # as Starlette's own call sets it: the requests' ``app`` and ``url_for``
            await self._lean(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def _lean_stack(self) -> ASGIApp:
        app: ASGIApp = LeanEndpoints(self.state.registry)
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return app


class LeanEndpoints:
    """The answers, for the requests ``answers`` accepts (``LeanApp`` sends no other)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route, answer, _ = _ANSWERS[(scope["method"], scope["path"])]
        scope["route"] = route
        try:
            response = await answer(self.registry, scope, receive)
        except Exception as exc:
            # What the routes get from Starlette's exception layer: the app's handler for the error's
            # class (broker.api.errors: bad input the database refused, a client gone mid-body, …).
            handler = _handler_for(scope["app"].exception_handlers, exc)
            if handler is None:
                raise  # a bug: the edge's last resort
            request = Request(scope, receive)
            if inspect.iscoroutinefunction(handler):
                response = await handler(request, exc)
            else:
                response = await run_in_threadpool(handler, request, exc)
        await response(scope, receive, send)


def _handler_for(handlers: dict[Any, Any], exc: Exception) -> Any:
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None  # as Starlette: a handler for every Exception is the server-error layer's
        if cls in handlers:
            return handlers[cls]
    return None
