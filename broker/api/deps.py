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


RegistryDep = Annotated[Registry, Depends(get_registry)]
PagesDep = Annotated[Pages, Depends(get_pages)]
BrowserDep = Annotated[str | None, Depends(get_browser)]
SessionCookieDep = Annotated[str | None, Depends(get_session_cookie)]
