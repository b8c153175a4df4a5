"""Issue 7: the browser and SSO session cookies are written as Starlette's ``set_cookie`` writes them, byte
for byte, without its ``http.cookies`` machinery; a value that is not a plain token still goes through it."""

from __future__ import annotations

import pytest
from starlette.responses import Response

from broker.api.deps import set_token_cookie


@pytest.mark.parametrize("secure", [True, False])
@pytest.mark.parametrize("value", ["Zx-9_abcDEFghiJKLmnoPQRstuVWXyz0123456789AB", "a b;c", 'quo"te', "x=y"])
def test_a_token_cookie_is_the_header_set_cookie_writes(value: str, secure: bool) -> None:
    written, expected = Response(), Response()
    set_token_cookie(written, "broker_session", value, secure)
    expected.set_cookie("broker_session", value, httponly=True, samesite="lax", secure=secure, path="/")
    assert written.raw_headers == expected.raw_headers
