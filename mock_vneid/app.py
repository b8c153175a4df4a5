"""create_app: the one place where the mock is wired together."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from mock_vneid.citizens import load_citizens
from mock_vneid.clock import Clock, system_clock
from mock_vneid.context import MockContext
from mock_vneid.html import add_security_headers, make_templates
from mock_vneid.keys import KeyRing, load_or_create
from mock_vneid.routes import authorize, discovery, qr, test_controls, token, userinfo
from mock_vneid.settings import MockSettings


def create_app(settings: MockSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """Loads the citizens and the signing key now, so a bad seed or key fails at start-up."""
    settings = settings or MockSettings()
    context = MockContext(
        settings=settings,
        clock=clock or system_clock,
        citizens=load_citizens(settings.citizens_file),
        keys=KeyRing(load_or_create(settings.key_file)),
        templates=make_templates(),
    )
    app = FastAPI(title="Mock VNeID", summary="A stand-alone imitation of the VNeID OpenID Provider")
    app.state.mock = context
    app.middleware("http")(add_security_headers)
    app.mount("/static", StaticFiles(directory=str(files("mock_vneid").joinpath("static"))), name="static")
    for router in (discovery.router, authorize.router, qr.router, token.router, userinfo.router):
        app.include_router(router)
    if settings.test_controls:
        app.include_router(test_controls.router)
    return app
