"""Through real sockets: a uvicorn server in a thread, and the `mock-vneid` command itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from mock_vneid.app import create_app
from mock_vneid.settings import MockSettings, packaged_citizens_file
from tests.mock_vneid.vneid_kit import (
    AN,
    CLIENT_ID,
    CLIENT_SECRET,
    PASSWORD,
    REDIRECT_URI,
    Pkce,
    authorize_params,
    login_form,
)
from tests.support.servers import LiveServer, free_port

MOCK_VNEID = Path(sys.executable).parent / "mock-vneid"


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    port = free_port()
    settings = MockSettings(
        issuer=f"http://127.0.0.1:{port}",
        citizens_file=packaged_citizens_file(),
        key_file=tmp_path / "signing_key.pem",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uris=[REDIRECT_URI],
    )
    server = LiveServer(create_app(settings), port).start()  # the system clock: real time end to end
    yield server
    server.stop()


async def test_full_flow_over_http_verified_with_the_published_jwks(live: LiveServer) -> None:
    pkce = Pkce()
    params = authorize_params(pkce)
    async with httpx.AsyncClient(base_url=live.url, timeout=10) as http:
        meta = (await http.get("/.well-known/openid-configuration")).json()
        page = await http.get(meta["authorization_endpoint"], params=params)
        inputs = login_form(page).fields
        back = await http.post("/authorize", data={**inputs, "username": AN, "password": PASSWORD})
        code = httpx.URL(back.headers["location"]).params["code"]
        tokens = await http.post(
            meta["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": pkce.verifier,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            },
        )
        userinfo = await http.get(
            meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {tokens.json()['access_token']}"}
        )

    assert back.status_code == 303
    id_token = tokens.json()["id_token"]
    signing_key = jwt.PyJWKClient(meta["jwks_uri"]).get_signing_key_from_jwt(id_token)
    # Full PyJWT checks, exp and iat included, against the real clock.
    claims = jwt.decode(id_token, signing_key, algorithms=["RS256"], audience=CLIENT_ID, issuer=live.url)
    assert claims["nonce"] == params["nonce"]
    assert claims["identification_number"] == AN
    assert userinfo.json()["sub"] == claims["sub"]


def _environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCK_VNEID_")}
    return {**env, "MOCK_VNEID_KEY_FILE": str(tmp_path / "key.pem"), **extra}


def _wait_for_discovery(url: str, process: subprocess.Popen[bytes]) -> dict[str, object]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            meta: dict[str, object] = httpx.get(f"{url}/.well-known/openid-configuration").json()
            return meta
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(f"mock-vneid did not answer on {url}")


@pytest.mark.parametrize("how", ["environment", "options"])
def test_the_mock_vneid_command_serves(tmp_path: Path, how: str) -> None:
    port = free_port()
    if how == "environment":
        argv, env = [str(MOCK_VNEID)], _environment(tmp_path, MOCK_VNEID_PORT=str(port))
    else:
        argv, env = [str(MOCK_VNEID), "--host", "127.0.0.1", "--port", str(port)], _environment(tmp_path)
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        meta = _wait_for_discovery(f"http://127.0.0.1:{port}", process)
    finally:
        process.terminate()
        process.wait(timeout=10)

    # Unless MOCK_VNEID_ISSUER says otherwise, the issuer is where the mock really listens.
    assert meta["issuer"] == f"http://127.0.0.1:{port}"
    assert (tmp_path / "key.pem").exists()


def test_the_command_refuses_a_bad_seed_with_a_clear_message(tmp_path: Path) -> None:
    seed = tmp_path / "citizens.json"
    seed.write_text(json.dumps([{"identification_number": "123"}]), encoding="utf-8")

    done = subprocess.run(
        [str(MOCK_VNEID)],
        env=_environment(tmp_path, MOCK_VNEID_CITIZENS=str(seed)),
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert done.returncode == 2
    assert f"citizens file {seed}: record 1 (123)" in done.stderr
