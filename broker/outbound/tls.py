"""The TLS context every outbound client of the process verifies servers with.

Building one loads and parses the whole CA bundle (about 20 ms of CPU and 1 MB each); each transport used
to build its own, several per app and again for every command that builds a registry. One context, shared:
it holds only the trust store and the verification settings, which are the same for every upstream."""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def client_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()
