"""Subject identifiers per client (OIDC Core §8, §8.1).

``public``: the account's own stable ``sub``. ``pairwise``: a value derived from the client's sector
identifier and the account's ``sub`` with a secret key, so relying parties of different sectors cannot
correlate a citizen, while every client of one sector sees the same value, and it never changes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from urllib.parse import urlsplit

PUBLIC = "public"
PAIRWISE = "pairwise"
SUBJECT_TYPES = (PUBLIC, PAIRWISE)


def subject(public_sub: str, subject_type: str, sector: str | None, key: bytes) -> str:
    if subject_type == PUBLIC:
        return public_sub
    if not sector:
        raise ValueError("a pairwise client needs a sector identifier")
    message = f"{sector}\x00{public_sub}".encode()
    return base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest()).rstrip(b"=").decode()


def sector_of_redirect_uris(redirect_uris: Sequence[str]) -> str:
    """§8.1: without a sector_identifier_uri, the redirect URIs' single host is the sector."""
    hosts = {urlsplit(uri).hostname for uri in redirect_uris}
    if len(hosts) != 1 or None in hosts:
        raise ValueError("redirect URIs on several hosts need a sector_identifier_uri")
    return str(hosts.pop())


def sector_of_uri(sector_identifier_uri: str) -> str:
    """§8.1: the host of the sector_identifier_uri is the sector."""
    host = urlsplit(sector_identifier_uri).hostname
    if not host:
        raise ValueError("sector_identifier_uri has no host")
    return host


def sector_document_lists(document: object, redirect_uris: Sequence[str]) -> bool:
    """OIDC Registration §5: the document is a JSON array containing every redirect URI of the client."""
    return isinstance(document, list) and all(uri in document for uri in redirect_uris)
