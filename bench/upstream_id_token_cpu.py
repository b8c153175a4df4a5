"""Issue 7: the broker's CPU per verification of an upstream's ID token (``broker.upstream.id_token.verify``,
RS256, the JWKS cached), in-process, ``time.process_time`` over N verifications. Imports the tree it runs in:
run it in two worktrees to compare two versions.

    .venv/bin/python bench/upstream_id_token_cpu.py [--verifications 5000] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt

from broker.clock import FixedClock
from broker.oidc.keys import KeyPair, generate_private_pem, public_jwk, thumbprint
from broker.upstream import id_token
from broker.upstream.jwks import JwksCache

NOW = datetime(2024, 6, 15, 8, 0, tzinfo=UTC)


async def measure(verifications: int, rounds: int) -> list[float]:
    pem = generate_private_pem("RS256")
    key = KeyPair(thumbprint(public_jwk(pem)), "RS256", pem)
    at = int(NOW.timestamp())
    claims = {
        "iss": "https://vneid.example",
        "aud": "broker",
        "sub": "x" * 30,
        "nonce": "n" * 43,
        "iat": at,
        "exp": at + 300,
        "auth_time": at,
        "amr": ["pwd"],
        "acr": "2",
        "sid": "s" * 30,
    }
    token = jwt.encode(claims, pem, algorithm="RS256", headers={"kid": key.kid})

    async def fetch() -> dict[str, Any]:
        return {"keys": [key.public()]}

    cache = JwksCache(fetch, FixedClock(NOW), timedelta(seconds=30))
    options: dict[str, Any] = {
        "keys": cache,
        "issuer": "https://vneid.example",
        "client_id": "broker",
        "nonce": "n" * 43,
        "now": NOW,
        "leeway": timedelta(seconds=60),
    }
    for _ in range(300):
        await id_token.verify(token, **options)
    results = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(verifications):
            await id_token.verify(token, **options)
        results.append(round((time.process_time() - started) / verifications * 1e6, 1))
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--verifications", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})
    results = {
        "us_per_verification": asyncio.run(measure(args.verifications, args.rounds)),
        "load_average": list(os.getloadavg()),
    }
    print(json.dumps(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
