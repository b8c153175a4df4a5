"""All dependency injection, as ``Annotated`` aliases (after full-stack-fastapi-template's deps.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from broker.api.pages import Pages
from broker.registry import Registry

BROWSER_COOKIE = "broker_browser"


def get_registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


def get_pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages


def get_browser(request: Request) -> str | None:
    return request.cookies.get(BROWSER_COOKIE)


RegistryDep = Annotated[Registry, Depends(get_registry)]
PagesDep = Annotated[Pages, Depends(get_pages)]
BrowserDep = Annotated[str | None, Depends(get_browser)]
