"""create_app: the one place where the mock is wired together."""

from __future__ import annotations

from importlib.resources import files

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from mock_vneid.citizens import load_citizens
from mock_vneid.clock import Clock, system_clock
from mock_vneid.context import MockContext
from mock_vneid.gateway_crypto import load_public_key
from mock_vneid.html import SecurityHeaders, make_templates
from mock_vneid.keys import KeyRing, load_or_create
from mock_vneid.modes import oauth2_userinfo, vneid_gateway
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
        rp_public_key=_rp_public_key(settings),
    )
    app = FastAPI(title="Mock VNeID", summary="A stand-alone imitation of the VNeID OpenID Provider")
    app.state.mock = context
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=str(files("mock_vneid").joinpath("static"))), name="static")
    app.add_api_route("/healthz", _healthz, methods=["GET"], include_in_schema=False)
    for router in (authorize.router, qr.router, *_mode_routers(settings)):
        app.include_router(router)
    if settings.test_controls:
        app.include_router(test_controls.router)
    return app


def _mode_routers(settings: MockSettings) -> list[APIRouter]:
    """Each mode serves only its own shape: no discovery document where the real service has none."""
    if settings.mode == "oauth2-userinfo":
        return [oauth2_userinfo.router]
    if settings.mode == "vneid-gateway":
        return [vneid_gateway.router]
    return [discovery.router, token.router, userinfo.router]


def _rp_public_key(settings: MockSettings) -> RSAPublicKey | None:
    if settings.mode != "vneid-gateway":
        return None
    if settings.rp_public_key_file is None and settings.rp_public_key_pem is None:
        raise ValueError("MOCK_VNEID_MODE=vneid-gateway needs MOCK_VNEID_RP_PUBLIC_KEY_FILE (or _PEM)")
    try:
        return load_public_key(settings.rp_public_key_file, settings.rp_public_key_pem)
    except (OSError, ValueError) as exc:
        raise ValueError(f"the relying party's public key cannot be loaded: {exc}") from None


async def _healthz() -> dict[str, str]:
    return {"status": "ok"}
