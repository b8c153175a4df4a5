"""All dependency injection, as ``Annotated`` aliases (after full-stack-fastapi-template's deps.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response

from broker.api.pages import Pages, is_token
from broker.registry import Registry

BROWSER_COOKIE = "broker_browser"
# The SSO session: a random value, HttpOnly, SameSite=Lax, Secure with an https issuer; stored hashed.
SESSION_COOKIE = "broker_session"


def get_registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


def get_pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


def get_browser(request: Request) -> str | None:
    return request.cookies.get(BROWSER_COOKIE)


def get_session_cookie(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE)


def set_session_cookie(response: Response, value: str, secure: bool) -> None:
    set_token_cookie(response, SESSION_COOKIE, value, secure)


def set_token_cookie(response: Response, name: str, value: str, secure: bool) -> None:
    """A session cookie (HttpOnly, SameSite=Lax, the whole site) holding a random token: the header
    ``set_cookie`` would write, without its ``http.cookies`` machinery (issue 7: a tenth of /authorize's
    own work), which a token's characters never need (nothing to quote)."""
    if not is_token(value):
        response.set_cookie(name, value, httponly=True, samesite="lax", secure=secure, path="/")
        return
    header = f"{name}={value}; HttpOnly; Path=/; SameSite=lax{'; Secure' if secure else ''}"
    response.raw_headers.append((b"set-cookie", header.encode("latin-1")))


def clear_session_cookie(response: Response, secure: bool) -> None:
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax", secure=secure, path="/")


# FastAPI runs a plain ``def`` dependency in its thread pool: a thread hop per dependency per request (14 %
# of a login's CPU, bench/README.md). The providers never wait, so the injected ones are ``async def``.
async def _registry(request: Request) -> Registry:
    return get_registry(request)


async def _pages(request: Request) -> Pages:
    return get_pages(request)


async def _browser(request: Request) -> str | None:
    return get_browser(request)


async def _session_cookie(request: Request) -> str | None:
    return get_session_cookie(request)


RegistryDep = Annotated[Registry, Depends(_registry)]
PagesDep = Annotated[Pages, Depends(_pages)]
BrowserDep = Annotated[str | None, Depends(_browser)]
SessionCookieDep = Annotated[str | None, Depends(_session_cookie)]
