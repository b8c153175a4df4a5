"""Thin routers translating HTTP to the use cases and back. All injection lives in ``deps``."""
