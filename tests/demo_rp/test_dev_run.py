"""The pure helpers of scripts/dev_run.py (the `make run` orchestrator)."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "dev_run.py"


@pytest.fixture(scope="module")
def dev_run():
    spec = importlib.util.spec_from_file_location("dev_run", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["dev_run"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    yield module
    del sys.modules["dev_run"]


def test_default_ports_add_no_urls(dev_run):
    env = {"BROKER_DATABASE_URL": "sqlite+aiosqlite:///var/x.db", "PATH": "/usr/bin"}
    ports = dev_run.ports_from(env)
    assert ports == dev_run.Ports(vneid=9000, broker=8000, demo_rp=8080)
    children = dev_run.child_env(env, ports)
    assert {k: v for k, v in children.items() if not k.startswith("PYTHON")} == env


def test_overridden_ports_give_consistent_urls(dev_run):
    env = {"MOCK_VNEID_PORT": "9100", "BROKER_PORT": "8100", "DEMO_RP_PORT": "8180"}
    ports = dev_run.ports_from(env)
    children = dev_run.child_env(env, ports)
    assert ports == dev_run.Ports(vneid=9100, broker=8100, demo_rp=8180)
    assert children["MOCK_VNEID_ISSUER"] == children["BROKER_VNEID_ISSUER"] == "http://127.0.0.1:9100"
    assert children["BROKER_ISSUER"] == children["DEMO_RP_ISSUER"] == "http://127.0.0.1:8100"
    assert json.loads(children["MOCK_VNEID_REDIRECT_URIS"]) == [
        "http://127.0.0.1:8100" + dev_run.BROKER_VNEID_CALLBACK_PATH
    ]
    assert children["DEMO_RP_BASE_URL"] == "http://127.0.0.1:8180"
    assert children["BROKER_PORT"] == "8100"  # passed through unchanged


def test_only_the_urls_of_the_moved_server_change(dev_run):
    env = {"DEMO_RP_PORT": "8181"}
    children = dev_run.child_env(env, dev_run.ports_from(env))
    assert children["DEMO_RP_BASE_URL"] == "http://127.0.0.1:8181"
    unchanged = {"BROKER_ISSUER", "DEMO_RP_ISSUER", "MOCK_VNEID_ISSUER", "MOCK_VNEID_REDIRECT_URIS"}
    assert not unchanged & set(children)


def test_urls_the_user_set_win(dev_run):
    env = {"BROKER_PORT": "8100", "BROKER_ISSUER": "https://sso.example.gov.vn", "PYTHONUNBUFFERED": ""}
    children = dev_run.child_env(env, dev_run.ports_from(env))
    assert children["BROKER_ISSUER"] == "https://sso.example.gov.vn"
    assert children["DEMO_RP_ISSUER"] == "http://127.0.0.1:8100"
    assert children["PYTHONUNBUFFERED"] == ""


def test_demo_client_is_registered_for_the_demo_rp_address(dev_run):
    ports = dev_run.ports_from({"DEMO_RP_PORT": "8180"})
    base = dev_run.demo_rp_base_url(dev_run.child_env({"DEMO_RP_PORT": "8180"}, ports), ports)
    argv = dev_run.clients_create_argv("/venv/bin/broker", base)
    assert argv == [
        "/venv/bin/broker",
        *("clients", "create", "--name", "Cổng dịch vụ công tỉnh (demo)"),
        *("--redirect-uri", "http://127.0.0.1:8180/callback"),
        *("--post-logout-redirect-uri", "http://127.0.0.1:8180/"),
    ]
    assert "--post-logout-redirect-uri" not in dev_run.clients_create_argv("broker", base, post_logout=False)


def test_services_start_in_dependency_order_on_their_ports(dev_run):
    ports = dev_run.Ports(vneid=9000, broker=8000, demo_rp=8080)
    vneid, broker, demo_rp = dev_run.services(ports, "/v/bin/broker", "/v/bin/mock-vneid")
    assert vneid.argv == ["/v/bin/mock-vneid", "--host", "127.0.0.1", "--port", "9000"]
    assert vneid.ready_url == "http://127.0.0.1:9000/healthz"  # every MOCK_VNEID_MODE has it
    assert broker.argv == ["/v/bin/broker", "serve", "--host", "127.0.0.1", "--port", "8000"]
    assert broker.ready_url == "http://127.0.0.1:8000/.well-known/openid-configuration"
    assert demo_rp.argv[1:] == [
        *("-m", "uvicorn", "demo_rp.app:create_app", "--factory", "--app-dir", "examples"),
        *("--host", "127.0.0.1", "--port", "8080"),
    ]
    assert demo_rp.ready_url == "http://127.0.0.1:8080/healthz"


def test_client_json_is_found_in_the_cli_output(dev_run):
    assert dev_run.parse_client_json('{"client_id": "a", "client_secret": "b"}\n')["client_id"] == "a"
    noisy = 'INFO registering client\n{"client_id": "c", "client_secret": "d"}\n'
    assert dev_run.parse_client_json(noisy) == {"client_id": "c", "client_secret": "d"}
    with pytest.raises(dev_run.SetupFailed):
        dev_run.parse_client_json("Error: no database\n")


def test_mock_vneid_mode_configures_the_brokers_default_upstream_for_the_same_mode(dev_run):
    """Issue 10: `MOCK_VNEID_MODE=… make run` gives a broker that speaks the mock's shape."""
    ports = dev_run.ports_from({})
    assert "BROKER_VNEID_MODE" not in dev_run.child_env({"MOCK_VNEID_MODE": "oidc"}, ports)
    portal = dev_run.child_env({"MOCK_VNEID_MODE": "oauth2-userinfo"}, ports)
    assert portal["BROKER_VNEID_MODE"] == "oauth2-userinfo"
    gateway = dev_run.child_env(
        {"MOCK_VNEID_MODE": "vneid-gateway", "MOCK_VNEID_GATEWAY_CIPHER_MODE": "cbc"}, ports
    )
    assert gateway["BROKER_VNEID_MODE"] == "vneid-gateway"
    assert gateway["BROKER_VNEID_GATEWAY_CIPHER_MODE"] == "cbc"
    assert (
        gateway["MOCK_VNEID_RP_PUBLIC_KEY_FILE"] == gateway["BROKER_VNEID_GATEWAY_PRIVATE_KEY_FILE"] + ".pub"
    )
    mine = dev_run.child_env({"MOCK_VNEID_MODE": "vneid-gateway", "BROKER_VNEID_MODE": "oidc"}, ports)
    assert mine["BROKER_VNEID_MODE"] == "oidc"  # what the user set wins
    with pytest.raises(dev_run.SetupFailed, match="MOCK_VNEID_MODE"):
        dev_run.child_env({"MOCK_VNEID_MODE": "saml"}, ports)
