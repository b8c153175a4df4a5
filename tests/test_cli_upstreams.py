"""`broker upstreams …` (issue 10): the configured upstreams as read, a bad configuration refused with a clear
message and no traceback, and the gateway's key pair created once."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

BROKER = str(Path(sys.executable).parent / "broker")


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BROKER_")}
    return subprocess.run([BROKER, *args], env={**clean, **env}, capture_output=True, text=True, check=False)


def test_list_shows_the_upstreams_and_refuses_a_bad_one_clearly() -> None:
    default = _run("upstreams", "list")
    assert default.returncode == 0, default.stderr
    assert [(u["id"], u["type"]) for u in json.loads(default.stdout)] == [("vneid", "oidc")]

    two = [
        {
            "id": "vneid",
            "type": "oidc",
            "issuer": "https://vneid.example",
            "client_id": "a",
            "client_secret": "b",
        },
        {
            "id": "dvcqg",
            "type": "oauth2-userinfo",
            "issuer": "https://sso.example",
            "client_id": "a",
            "client_secret": "b",
        },
    ]
    listed = _run("upstreams", "list", BROKER_UPSTREAMS=json.dumps(two))
    assert [u["id"] for u in json.loads(listed.stdout)] == ["vneid", "dvcqg"]

    bad = _run("upstreams", "list", BROKER_UPSTREAMS=json.dumps([{**two[1], "issuer": None}]))
    assert bad.returncode == 2
    assert "upstream 'dvcqg': authorization_endpoint is required" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_gateway_key_is_created_once_private_and_its_public_half_written(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "gateway.pem"
    first = _run("upstreams", "gateway-key", str(key))
    assert first.returncode == 0, first.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    before = key.read_bytes()
    assert b"PUBLIC KEY" in (tmp_path / "keys" / "gateway.pem.pub").read_bytes()
    assert _run("upstreams", "gateway-key", str(key)).returncode == 0
    assert key.read_bytes() == before  # kept, never replaced
