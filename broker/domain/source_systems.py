"""The names people read for the legacy systems accounts came from ("Cổng DVC tỉnh", not ``dvc-tinh``).

A name comes from the configuration (``BROKER_SOURCE_SYSTEM_NAMES``) or, failing that, the code itself,
so a page never shows nothing."""

from __future__ import annotations

from collections.abc import Mapping


def display_name(code: str, configured: Mapping[str, str]) -> str:
    return configured.get(code) or code
