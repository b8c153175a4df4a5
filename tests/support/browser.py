"""A scripted browser and relying party: what a person's browser and an RP's back end do, step by step."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from broker.outbound import tls
from tests.support.html_forms import form_with, forms

SCOPE = "openid profile identification account"


@dataclass
class RelyingParty:
    client_id: str
    client_secret: str
    redirect_uri: str


@dataclass
class AuthorizationAttempt:
    params: dict[str, str]
    verifier: str

    @property
    def state(self) -> str:
        return self.params["state"]


@dataclass
class Redirect:
    url: str

    @property
    def query(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(urlsplit(self.url).query).items()}


@dataclass
class Browser:
    """One person's browser: its own cookie jar, never following redirects on its own."""

    http: httpx.AsyncClient = field(
        default_factory=lambda: httpx.AsyncClient(timeout=30, verify=tls.client_context())
    )

    async def close(self) -> None:
        await self.http.aclose()

    def attempt(self, rp: RelyingParty, **overrides: str | None) -> AuthorizationAttempt:
        verifier = secrets.token_urlsafe(48)
        params: dict[str, str | None] = {
            "response_type": "code",
            "client_id": rp.client_id,
            "redirect_uri": rp.redirect_uri,
            "scope": SCOPE,
            "state": secrets.token_urlsafe(16),
            "nonce": secrets.token_urlsafe(16),
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
            **overrides,
        }
        return AuthorizationAttempt({k: v for k, v in params.items() if v is not None}, verifier)

    async def authorize(self, broker_url: str, attempt: AuthorizationAttempt) -> httpx.Response:
        return await self.http.get(f"{broker_url}/authorize", params=attempt.params)

    async def follow(self, response: httpx.Response) -> httpx.Response:
        assert response.status_code in (302, 303), (response.status_code, response.text[:500])
        return await self.http.get(response.url.join(response.headers["location"]))

    async def choose_vneid(self, login_page: httpx.Response) -> httpx.Response:
        """On a page whose VNeID button posts to the broker (the retry pages, a login page shown again, or
        several upstreams), press it: the broker's 303 to VNeID."""
        form = form_with(login_page.text, str(login_page.url), "flow")
        assert form.action.endswith("/login/vneid"), form.action
        response = await self.http.post(form.action, data=form.fields)
        assert response.status_code == 303, response.text[:1000]
        return response

    async def vneid_address(self, login_page: httpx.Response) -> str:
        """Where pressing "Đăng nhập bằng VNeID" takes the browser: the GET form /authorize prepared (the
        upstream's authorization request itself), or else the broker's 303 after the POST."""
        prepared = [form for form in forms(login_page.text, str(login_page.url)) if form.method == "get"]
        if prepared:
            form = prepared[0]
            assert "state" in form.fields and "/login" not in form.action, form
            return str(httpx.URL(form.action, params=form.fields))
        return (await self.choose_vneid(login_page)).headers["location"]

    async def open_vneid(self, login_page: httpx.Response) -> httpx.Response:
        """Press "Đăng nhập bằng VNeID": VNeID's own login page."""
        return await self.http.get(await self.vneid_address(login_page))

    async def sign_in_at_vneid(
        self, vneid_page: httpx.Response, number: str, password: str
    ) -> httpx.Response:
        """On mock VNeID's form, type the 12-digit number and password, and submit."""
        assert vneid_page.status_code == 200, vneid_page.text[:1000]
        form = form_with(vneid_page.text, str(vneid_page.url), "username", "password")
        return await self.http.post(
            form.action, data={**form.fields, "username": number, "password": password}
        )

    async def log_in(
        self, broker_url: str, rp: RelyingParty, number: str, password: str, **overrides: str | None
    ) -> tuple[AuthorizationAttempt, Redirect]:
        """The whole citizen journey: RP → broker → VNeID form → broker → back at the RP with a code."""
        attempt = self.attempt(rp, **overrides)
        login_page = await self.authorize(broker_url, attempt)
        vneid_page = await self.open_vneid(login_page)
        back_at_broker = await self.sign_in_at_vneid(vneid_page, number, password)
        assert back_at_broker.status_code == 303, back_at_broker.text[:1000]
        at_rp = await self.http.get(back_at_broker.headers["location"])
        assert at_rp.status_code == 303, at_rp.text[:2000]
        return attempt, Redirect(at_rp.headers["location"])


async def redeem(
    http: httpx.AsyncClient, broker_url: str, rp: RelyingParty, code: str, verifier: str, **extra: str
) -> httpx.Response:
    """The RP's back end exchanges the code (client_secret_basic)."""
    return await http.post(
        f"{broker_url}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": rp.redirect_uri,
            "code_verifier": verifier,
            **extra,
        },
        auth=(rp.client_id, rp.client_secret),
    )


def verified_id_token(
    token: str, jwks: dict[str, Any], issuer: str, audience: str, *, fixed_time: bool = False
) -> dict[str, Any]:
    """What an RP does with the ID token, written independently of the broker's code.

    ``fixed_time``: the servers run on a fixed clock (in 2024, say), so the RP's own clock cannot judge
    ``exp``; everything else is still verified.
    """
    import jwt

    header = jwt.get_unverified_header(token)
    key = next(entry for entry in jwks["keys"] if entry["kid"] == header["kid"])
    options = {"verify_exp": False, "verify_iat": False} if fixed_time else {}
    return jwt.decode(
        token,
        jwt.PyJWK(key).key,
        algorithms=[header["alg"]],
        audience=audience,
        issuer=issuer,
        options=options,
    )
