"""The token endpoint under bad input and attack, as the RP's back end sees it (RFC 6749 §4.1.3, §5.2;
RFC 7636; RFC 9700 §4.2.4 and §2.1.1). Every answer, success or error, must not be cached."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from broker.clock import FixedClock
from tests.conftest import DEMO_PASSWORD, Stack, StackFactory
from tests.support.browser import Browser, RelyingParty, redeem

AN = "001085012345"
BINH = "001190023456"
MAX_BODY = 64 * 1024


def assert_no_store(response: httpx.Response) -> None:
    assert response.headers.get("cache-control") == "no-store", (response.status_code, response.headers)
    assert response.headers.get("pragma") == "no-cache", (response.status_code, response.headers)


def assert_token_error(response: httpx.Response, status: int, error: str) -> dict[str, str]:
    context = (response.status_code, response.text[:500])
    assert response.status_code == status, context
    assert response.headers["content-type"].startswith("application/json"), context
    body = response.json()
    assert body["error"] == error, context
    assert "access_token" not in body and "id_token" not in body, context
    assert_no_store(response)
    return dict(body)


async def logged_in_code(stack: Stack, rp: RelyingParty, number: str = AN) -> tuple[str, str]:
    """A fresh browser logs in; returns the code the RP received and the RP's PKCE verifier."""
    person = Browser()
    try:
        attempt, back = await person.log_in(stack.broker_url, rp, number, DEMO_PASSWORD)
    finally:
        await person.close()
    return back.query["code"], attempt.verifier


async def userinfo_status(http: httpx.AsyncClient, stack: Stack, access_token: str) -> int:
    response = await http.get(
        f"{stack.broker_url}/userinfo", headers={"Authorization": f"Bearer {access_token}"}
    )
    return response.status_code


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


# --- the code: single use, bound to its client, redirect URI and PKCE challenge, short lived ------------


async def test_a_reused_code_is_refused_and_revokes_the_token_it_issued(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    code, verifier = await logged_in_code(stack, rp)
    first = await redeem(http, stack.broker_url, rp, code, verifier)
    assert first.status_code == 200, first.text
    assert_no_store(first)
    access_token = first.json()["access_token"]
    assert await userinfo_status(http, stack, access_token) == 200

    second = await redeem(http, stack.broker_url, rp, code, verifier)
    assert_token_error(second, 400, "invalid_grant")
    assert await userinfo_status(http, stack, access_token) == 401
    third = await redeem(http, stack.broker_url, rp, code, verifier)
    assert_token_error(third, 400, "invalid_grant")


async def test_twenty_parallel_redemptions_of_one_code_give_exactly_one_token(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    code, verifier = await logged_in_code(stack, rp)
    responses = await asyncio.gather(*(redeem(http, stack.broker_url, rp, code, verifier) for _ in range(20)))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [400] * 19, [(r.status_code, r.text[:200]) for r in responses]
    for response in responses:
        assert_no_store(response)
        if response.status_code == 400:
            assert response.json()["error"] == "invalid_grant"
    # The losers were reuses: the winner's token is revoked with its grant.
    winner = next(response for response in responses if response.status_code == 200)
    assert await userinfo_status(http, stack, winner.json()["access_token"]) == 401


async def test_a_code_with_the_wrong_verifier_or_redirect_uri_is_refused(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    cases: dict[str, Callable[[str], dict[str, str]]] = {
        "another verifier": lambda _: {"code_verifier": secrets.token_urlsafe(48)},
        "a verifier that is too short": lambda verifier: {"code_verifier": verifier[:42]},
        "a verifier that is too long": lambda verifier: {"code_verifier": (verifier * 3)[:129]},
        "the challenge instead of the verifier": lambda verifier: {
            "code_verifier": create_s256_code_challenge(verifier)
        },
        "a redirect_uri with a trailing slash": lambda _: {"redirect_uri": rp.redirect_uri + "/"},
        "another redirect_uri": lambda _: {"redirect_uri": "http://127.0.0.1:1/callback"},
    }
    for name, tamper in cases.items():
        code, verifier = await logged_in_code(stack, rp)
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": rp.redirect_uri,
            "code_verifier": verifier,
            **tamper(verifier),
        }
        response = await http.post(
            f"{stack.broker_url}/token", data=data, auth=(rp.client_id, rp.client_secret)
        )
        assert response.status_code == 400, (name, response.text)
        assert_token_error(response, 400, "invalid_grant")

    # Missing pieces are a malformed request, not a grant failure.
    code, verifier = await logged_in_code(stack, rp)
    for missing in ("code", "redirect_uri", "code_verifier"):
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": rp.redirect_uri,
            "code_verifier": verifier,
        }
        del data[missing]
        response = await http.post(
            f"{stack.broker_url}/token", data=data, auth=(rp.client_id, rp.client_secret)
        )
        assert_token_error(response, 400, "invalid_request")
    unknown = await redeem(http, stack.broker_url, rp, secrets.token_urlsafe(32), verifier)
    assert_token_error(unknown, 400, "invalid_grant")


async def test_a_code_issued_to_one_client_is_refused_to_another(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    # Client B even shares A's redirect URI: the code is bound to the client, not only to the URI.
    other = await stack.register_client(name="Another RP", redirect_uris=[rp.redirect_uri])
    code, verifier = await logged_in_code(stack, rp)
    stolen = await redeem(http, stack.broker_url, other, code, verifier)
    assert_token_error(stolen, 400, "invalid_grant")
    # Posting A's client_id in the body while authenticating as B changes nothing.
    mixed = await redeem(http, stack.broker_url, other, code, verifier, client_id=rp.client_id)
    assert mixed.status_code in (400, 401)
    assert mixed.json()["error"] in ("invalid_request", "invalid_client")

    own = await redeem(http, stack.broker_url, rp, code, verifier)
    assert own.status_code == 200, own.text


async def test_an_expired_code_is_refused(make_stack: StackFactory, http: httpx.AsyncClient) -> None:
    clock = FixedClock(datetime.now(UTC))
    stack = make_stack(clock=clock)
    rp = await stack.register_client()
    code, verifier = await logged_in_code(stack, rp)
    clock.advance(seconds=120)
    response = await redeem(http, stack.broker_url, rp, code, verifier)
    assert_token_error(response, 400, "invalid_grant")

    # The control: a code redeemed in time works on the same stack.
    code, verifier = await logged_in_code(stack, rp)
    clock.advance(seconds=30)
    assert (await redeem(http, stack.broker_url, rp, code, verifier)).status_code == 200


# --- client authentication ------------------------------------------------------------------------------


async def test_a_failed_client_authentication_is_401_and_does_not_say_which_part_was_wrong(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    url = f"{stack.broker_url}/token"
    form = {
        "grant_type": "authorization_code",
        "code": secrets.token_urlsafe(32),
        "redirect_uri": rp.redirect_uri,
        "code_verifier": secrets.token_urlsafe(48),
    }
    wrong_secret = await http.post(url, data=form, auth=(rp.client_id, rp.client_secret + "x"))
    body = assert_token_error(wrong_secret, 401, "invalid_client")
    assert wrong_secret.headers["www-authenticate"].startswith("Basic")
    assert 'realm="broker"' in wrong_secret.headers["www-authenticate"]

    unknown = await http.post(url, data=form, auth=("rp-0000000000000000", rp.client_secret))
    assert assert_token_error(unknown, 401, "invalid_client") == body
    assert unknown.headers["www-authenticate"] == wrong_secret.headers["www-authenticate"]
    assert unknown.content == wrong_secret.content

    others = {
        "wrong secret in the body": (
            {**form, "client_id": rp.client_id, "client_secret": "nope"},
            {},
        ),
        "unknown client in the body": (
            {**form, "client_id": "rp-0000000000000000", "client_secret": rp.client_secret},
            {},
        ),
        "no credentials at all": (form, {}),
        "client_id without a secret": ({**form, "client_id": rp.client_id}, {}),
        "empty secret": (form, {"Authorization": basic(rp.client_id, "")}),
        "Bearer instead of Basic": (form, {"Authorization": f"Bearer {rp.client_secret}"}),
        "Basic that is not base64": (form, {"Authorization": "Basic %%%not-base64%%%"}),
        "Basic without a colon": (
            form,
            {"Authorization": "Basic " + base64.b64encode(rp.client_id.encode()).decode()},
        ),
    }
    for name, (data, headers) in others.items():
        response = await http.post(url, data=data, headers=headers)
        assert response.status_code == 401, (name, response.text)
        assert_token_error(response, 401, "invalid_client")
        assert "www-authenticate" in response.headers, name


async def test_client_secret_post_works(stack: Stack, http: httpx.AsyncClient) -> None:
    rp = await stack.register_client(token_endpoint_auth_method="client_secret_post")
    code, verifier = await logged_in_code(stack, rp)
    response = await http.post(
        f"{stack.broker_url}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": rp.redirect_uri,
            "code_verifier": verifier,
            "client_id": rp.client_id,
            "client_secret": rp.client_secret,
        },
    )
    assert response.status_code == 200, response.text
    assert_no_store(response)
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    assert {"access_token", "id_token", "expires_in"} <= tokens.keys()
    assert await userinfo_status(http, stack, tokens["access_token"]) == 200


# --- malformed requests: a clean wire error, never a 500 ------------------------------------------------


async def test_malformed_token_requests_get_a_clean_error(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    url = f"{stack.broker_url}/token"
    auth = {"Authorization": basic(rp.client_id, rp.client_secret)}
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    good = (
        f"code={secrets.token_urlsafe(32)}&redirect_uri={rp.redirect_uri}"
        f"&code_verifier={secrets.token_urlsafe(48)}"
    )
    cases: dict[str, tuple[bytes, dict[str, str], int, str]] = {
        "missing grant_type": (good.encode(), {**auth, **form_type}, 400, "invalid_request"),
        "empty grant_type": (f"grant_type=&{good}".encode(), {**auth, **form_type}, 400, "invalid_request"),
        "unknown grant_type": (
            f"grant_type=password&{good}".encode(),
            {**auth, **form_type},
            400,
            "unsupported_grant_type",
        ),
        "implicit-looking grant_type": (
            f"grant_type=token&{good}".encode(),
            {**auth, **form_type},
            400,
            "unsupported_grant_type",
        ),
        "repeated grant_type": (
            f"grant_type=authorization_code&grant_type=authorization_code&{good}".encode(),
            {**auth, **form_type},
            400,
            "invalid_request",
        ),
        "repeated code": (
            f"grant_type=authorization_code&code=a&{good}".encode(),
            {**auth, **form_type},
            400,
            "invalid_request",
        ),
        "a JSON body": (
            b'{"grant_type": "authorization_code", "code": "x"}',
            {**auth, "Content-Type": "application/json"},
            400,
            "invalid_request",
        ),
        "no content type": (f"grant_type=authorization_code&{good}".encode(), auth, 400, "invalid_request"),
        "a multipart body": (
            b'--b\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\nauthorization_code\r\n--b--\r\n',
            {**auth, "Content-Type": "multipart/form-data; boundary=b"},
            400,
            "invalid_request",
        ),
        "invalid UTF-8 bytes": (
            b"grant_type=authorization_code&code=\xff\xfe\xfd&" + good.encode(),
            {**auth, **form_type},
            400,
            "invalid_request",
        ),
        "percent-encoded invalid UTF-8": (
            f"grant_type=authorization_code&code=%FF%FE&{good}".encode(),
            {**auth, **form_type},
            400,
            "invalid_request",
        ),
        "secret in the header and in the body": (
            f"grant_type=authorization_code&client_secret={rp.client_secret}&{good}".encode(),
            {**auth, **form_type},
            400,
            "invalid_request",
        ),
        "an empty body": (b"", {**auth, **form_type}, 400, "invalid_request"),
    }
    for name, (content, headers, status, error) in cases.items():
        response = await http.post(url, content=content, headers=headers)
        assert response.status_code == status, (name, response.status_code, response.text)
        assert_token_error(response, status, error)
    # Only POST.
    assert (await http.get(url, params={"grant_type": "authorization_code"})).status_code == 405


async def test_a_body_over_the_size_limit_is_413_with_a_json_error(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    url = f"{stack.broker_url}/token"
    headers = {
        "Authorization": basic(rp.client_id, rp.client_secret),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    prefix = b"grant_type=authorization_code&redirect_uri=x&code_verifier=y&code="

    at_limit = prefix + b"c" * (MAX_BODY - len(prefix))
    assert len(at_limit) == MAX_BODY
    response = await http.post(url, content=at_limit, headers=headers)
    assert_token_error(response, 400, "invalid_grant")  # read and judged, not refused for its size

    over = prefix + b"c" * (MAX_BODY + 1 - len(prefix))
    response = await http.post(url, content=over, headers=headers)
    assert_token_error(response, 413, "invalid_request")

    huge = prefix + b"c" * (4 * MAX_BODY)
    response = await http.post(url, content=huge, headers=headers)
    assert_token_error(response, 413, "invalid_request")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds while reading
        yield prefix
        for _ in range(80):
            yield b"c" * 1024

    async with httpx.AsyncClient(timeout=30) as fresh:
        response = await fresh.post(url, content=chunks(), headers=headers)
    assert_token_error(response, 413, "invalid_request")

    # And the broker is still fine.
    assert (await http.get(f"{stack.broker_url}/healthz")).status_code == 200
