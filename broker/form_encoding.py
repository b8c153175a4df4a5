"""``application/x-www-form-urlencoded`` output (queries of redirects, bodies of upstream requests): the
standard library's ``urlencode``, its quoting remembered for the values that come back at every login.

A login encodes the same few values again and again (the issuer, the broker's callback URI, a relying
party's redirect URI, a scope), and ``quote_plus`` quotes any value with a character to escape one byte at
a time in Python: a tenth of the interpreter's steps of a login went to URL encoding (issue 7, twenty-first
round). Values made only of the characters it never escapes are returned as they are, without a call into
it; others are quoted by it once and remembered, a bounded number of them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote_plus, urlencode

# The characters quote_plus never escapes (urllib.parse's _ALWAYS_SAFE), ASCII only.
_UNESCAPED = re.compile(r"[A-Za-z0-9_.~-]*").fullmatch


@functools.lru_cache(maxsize=1024)
def _quoted(value: str, safe: str) -> str:
    return quote_plus(value, safe)


def _quote(value: str | bytes, safe: str = "", encoding: str | None = None, errors: str | None = None) -> str:
    """``quote_plus``, as ``urlencode`` calls it."""
    if isinstance(value, bytes):
        return quote_plus(value, safe)
    if encoding is not None or errors is not None:
        return quote_plus(value, safe, encoding, errors)
    if _UNESCAPED(value):
        return value
    return _quoted(value, safe)


def form_encoded(query: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
    """``urllib.parse.urlencode(query)``: the same text."""
    return urlencode(query, quote_via=_quote)  # type: ignore[arg-type]
