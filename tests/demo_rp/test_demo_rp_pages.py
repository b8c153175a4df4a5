"""What a visitor of the demo relying party sees, without a broker behind it."""

from datetime import UTC, datetime

import httpx
import pytest
from demo_rp.app import claim_rows, create_app, vietnam_tz
from demo_rp.settings import DemoRPSettings

BASE_URL = "http://127.0.0.1:8080"


def unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def settings(tmp_path, **overrides) -> DemoRPSettings:
    values = {
        "issuer": "http://127.0.0.1:8000",
        "base_url": BASE_URL,
        "client_file": tmp_path / "missing.json",
        "client_id": "demo-rp",
        "client_secret": "s3cret",
        "session_secret": "test-session-secret",
    }
    return DemoRPSettings(**(values | overrides))


@pytest.fixture
def make_client(tmp_path):
    """An HTTP client on a fresh demo RP whose broker cannot be reached."""

    def make(**overrides) -> httpx.AsyncClient:
        app = create_app(settings(tmp_path, **overrides), transport=httpx.MockTransport(unreachable))
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)

    return make


async def test_home_offers_the_login_button(make_client):
    async with make_client() as client:
        response = await client.get("/")
    assert response.status_code == 200
    assert "Đăng nhập" in response.text
    assert 'href="/login"' in response.text
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_healthz(make_client):
    async with make_client() as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_error_from_the_broker_is_a_friendly_escaped_page(make_client):
    params = {"error": "access_denied", "error_description": "<script>alert(1)</script> Tài khoản bị khoá"}
    async with make_client() as client:
        response = await client.get("/callback", params=params)
    assert response.status_code == 400
    assert "Không đăng nhập được" in response.text
    assert "access_denied" in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Tài khoản bị khoá" in response.text
    assert "<script>" not in response.text


async def test_callback_without_a_login_in_progress_is_refused_cleanly(make_client):
    async with make_client() as client:
        response = await client.get("/callback", params={"code": "abc", "state": "not-ours"})
    assert response.status_code == 400
    assert "mismatching_state" in response.text


async def test_me_without_a_session_goes_home(make_client):
    async with make_client() as client:
        response = await client.get("/me")
    assert response.status_code == 303
    assert response.headers["location"] == "/"


async def test_login_with_the_broker_down_explains_instead_of_crashing(make_client):
    async with make_client() as client:
        response = await client.get("/login")
    assert response.status_code == 502
    assert "broker_unavailable" in response.text


async def test_login_without_a_registered_client_says_so(make_client):
    async with make_client(client_id=None, client_secret=None) as client:
        response = await client.get("/login")
    assert response.status_code == 503
    assert "client_not_configured" in response.text


async def test_login_starts_on_the_host_name_of_the_callback(make_client):
    async with make_client() as client:
        response = await client.get("http://localhost:8080/login")
    assert response.status_code == 303
    assert response.headers["location"] == f"{BASE_URL}/login"


async def test_logout_with_the_broker_down_still_logs_out_locally(make_client):
    async with make_client() as client:
        response = await client.get("/logout")
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_client_credentials_come_from_the_file_printed_by_the_cli(tmp_path):
    client_file = tmp_path / "client.json"
    client_file.write_text('{"client_id": "abc", "client_secret": "xyz", "name": "demo"}')
    loaded = settings(tmp_path, client_file=client_file, client_id=None, client_secret=None)
    assert loaded.client_credentials() == ("abc", "xyz")
    assert settings(tmp_path, client_file=client_file).client_credentials() == ("demo-rp", "s3cret")


def test_timestamps_are_shown_in_vietnam_time():
    noon_utc = datetime(2024, 7, 1, 5, 0, tzinfo=UTC).timestamp()
    rows = claim_rows({"sub": "abc", "exp": int(noon_utc), "amr": ["vneid"]}, vietnam_tz())
    assert rows[0] == ("sub", "abc", "")
    assert rows[1][2].startswith("01/07/2024 12:00:00")
    assert rows[2] == ("amr", '["vneid"]', "")
    assert claim_rows({"iat": 10**20}, vietnam_tz()) == [("iat", str(10**20), "")]
