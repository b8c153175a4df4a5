"""Scrapes of a live broker's /metrics, for the tests that compare the series of two scrapes."""

from __future__ import annotations

import asyncio
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

REFRESHED = "broker_gauges_refreshed_timestamp_seconds"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


async def after_first_refresh(http: httpx.AsyncClient, broker_url: str, seconds: float = 30) -> str:
    """A scrape taken once the background gauges (key ages, review queue, clean-up counts) have been
    refreshed: their series appear with the first refresh, late on a loaded machine, and would otherwise
    show up between two scrapes a test compares."""
    deadline = time.monotonic() + seconds
    while not value(scraped := (await http.get(f"{broker_url}/metrics")).text, REFRESHED):
        assert time.monotonic() < deadline, "the background gauges never refreshed"
        await asyncio.sleep(0.1)
    return scraped
