"""All dependency injection, as ``Annotated`` aliases (after full-stack-fastapi-template's deps.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response

from broker.api.pages import Pages
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
    response.set_cookie(SESSION_COOKIE, value, httponly=True, samesite="lax", secure=secure, path="/")


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
