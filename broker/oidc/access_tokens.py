"""The two shapes of the broker's access tokens, told apart by their dots before anything is looked up.

- ``opaque`` (the default): ``<jti>.<secret>``, two random 256-bit strings. It says nothing to whoever
  holds it (RFC 9068 §6: a JWT's claims are readable by the client and everything the token passes
  through); the broker finds its row by the ``jti`` and accepts it only if its SHA-256 is the one stored,
  as it does for a JWT it issued (``broker.oidc.keys.KeyRing.verify_issued``). It costs no signature;
  panva's oidc-provider, the peer OP of issue 7's benchmark, issues this kind by default too.
- ``jwt`` (RFC 9068): header, claims and signature; a resource server can read and verify it with the
  published keys, for a client registered with ``access_token_format: jwt`` or when
  ``BROKER_ACCESS_TOKEN_FORMAT=jwt``.

Refresh tokens are random strings without dots, so a token's shape also tells introspection and
revocation which store to search.
"""

from __future__ import annotations

from typing import Literal

AccessTokenFormat = Literal["jwt", "opaque"]
JWT: AccessTokenFormat = "jwt"
OPAQUE: AccessTokenFormat = "opaque"
FORMATS: tuple[AccessTokenFormat, ...] = (OPAQUE, JWT)


def format_for(registered: str | None, default: AccessTokenFormat) -> str:
    """A client's access tokens: the format it was registered with, or the broker's default (NULL)."""
    return registered or default


def shape(token: str) -> AccessTokenFormat | None:
    """Which kind of access token a string could be; None when it could be neither (a refresh token)."""
    dots = token.count(".")
    if dots == 2:
        return JWT
    if dots == 1:
        return OPAQUE
    return None


def opaque(jti: str, secret: str) -> str:
    return f"{jti}.{secret}"


def opaque_jti(token: str) -> str:
    """The ``jti`` an opaque token names, only to find its row: the stored hash then decides."""
    jti, _, secret = token.partition(".")
    if not jti or not secret:
        raise ValueError("not an opaque access token")
    return jti
