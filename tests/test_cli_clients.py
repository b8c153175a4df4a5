"""`broker clients …`: every per-client setting as an option named after OIDC Registration metadata; a
secret is printed once (create, update --rotate-secret) and never by list or show."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.databases import SqliteDatabases

BROKER = str(Path(sys.executable).parent / "broker")


def _run(url: str, *args: str) -> Any:
    result = subprocess.run(
        [BROKER, *args],
        env={**os.environ, "BROKER_DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_clients_commands(sqlite_databases: SqliteDatabases, tmp_path: Path) -> None:
    url = sqlite_databases.fresh()
    jwks = tmp_path / "jwks.json"
    jwks.write_text(
        json.dumps(
            {
                "keys": [
                    {
                        "kty": "EC",
                        "crv": "P-256",
                        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
                        "kid": "k",
                    }
                ]
            }
        )
    )
    created = _run(
        url,
        "clients", "create", "--name", "Hệ thống TTHC", "--redirect-uri", "http://127.0.0.1:1/cb",
        "--post-logout-redirect-uri", "http://127.0.0.1:1/bye", "--backchannel-logout-uri", "http://127.0.0.1:1/bc",
        "--subject-type", "pairwise", "--default-acr-values", "urn:vneid:loa:level2", "--grant-type", "refresh_token",
    )  # fmt: skip
    assert created["client_secret"] and created["subject_type"] == "pairwise"
    assert created["grant_types"] == ["authorization_code", "refresh_token"]
    keyed = _run(
        url, "clients", "create", "--name", "K", "--redirect-uri", "http://127.0.0.1:1/cb",
        "--token-endpoint-auth-method", "private_key_jwt", "--jwks", f"@{jwks}",
    )  # fmt: skip
    public = _run(
        url, "clients", "create", "--name", "P", "--redirect-uri", "http://127.0.0.1:1/cb", "--public"
    )
    assert keyed["client_secret"] is None and public["client_secret"] is None
    assert public["token_endpoint_auth_method"] == "none"
    assert created["access_token_format"] is None  # the broker's default
    verified = _run(
        url, "clients", "create", "--name", "RS", "--redirect-uri", "http://127.0.0.1:1/cb",
        "--access-token-format", "jwt",
    )  # fmt: skip
    assert verified["access_token_format"] == "jwt"
    back = _run(url, "clients", "update", verified["client_id"], "--access-token-format", "default")
    assert back["access_token_format"] is None and back["client_name"] == "RS"

    listed = _run(url, "clients", "list")
    assert len(listed) == 4 and all("client_secret" not in client for client in listed)
    shown = _run(url, "clients", "show", created["client_id"])
    assert "client_secret" not in shown and shown["backchannel_logout_uri"] == "http://127.0.0.1:1/bc"

    rotated = _run(
        url,
        "clients",
        "update",
        created["client_id"],
        "--rotate-secret",
        "--minimum-acr",
        "urn:vneid:loa:level2",
    )
    assert rotated["client_secret"] not in (None, created["client_secret"])
    assert rotated["minimum_acr"] == "urn:vneid:loa:level2" and rotated["subject_type"] == "pairwise"
    assert _run(url, "clients", "delete", created["client_id"]) == {
        "client_id": created["client_id"],
        "disabled": True,
    }
    assert _run(url, "clients", "show", created["client_id"])["disabled"] is True
