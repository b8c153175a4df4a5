"""Gauges an operator watches that come from the database (review queue, clean-up classes, key age),
refreshed in the background every ``BROKER_METRICS_REFRESH_SECONDS``: a scrape only reads memory, so
Prometheus scraping every replica often costs the database nothing."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC

from broker.admin import reports
from broker.errors import StoreUnavailable
from broker.outbound import certificates
from broker.registry import Registry
from broker.store import gauges

log = logging.getLogger(__name__)

CLEANUP_CLASSES = ("accounts", "linked", "not_linked", "without_number", "frozen", "needs_review", "merged")


async def refresh(registry: Registry, *, cleanup: bool = True) -> None:
    """The review queue, key ages and the database's health; with ``cleanup``, the clean-up counts too
    (a GROUP BY over every account: 1.5 s on a million, so asked less often than the rest)."""
    metrics = registry.metrics
    try:
        async with registry.db.read() as session:
            reviews = await gauges.open_reviews_by_kind(session)
            keys = await gauges.newest_key_per_alg(session)
        # The same counts as `broker report cleanup`.
        report = await reports.cleanup_report(registry, by=None) if cleanup else None
    except StoreUnavailable:
        metrics.database_up.set(0)
        raise
    metrics.database_up.set(1)
    shown = {sample.labels["kind"] for family in metrics.review_queue.collect() for sample in family.samples}
    for kind in shown | reviews.keys():  # a kind whose last item was resolved goes to 0, not stale
        metrics.review_queue.labels(kind).set(reviews.get(kind, 0))
    for account_type, counts in report.by_type.items() if report else ():
        for name in CLEANUP_CLASSES:
            metrics.cleanup_accounts.labels(str(account_type), name).set(getattr(counts, name))
        # Citizens not cleaned, by why (issue 9's classes): a fixed vocabulary, so labels stay bounded.
        for name, value in counts.not_cleaned.items():
            metrics.cleanup_accounts.labels(str(account_type), f"not_cleaned_{name}").set(value)
    now = registry.clock()
    for alg, created in keys.items():
        created = created if created.tzinfo else created.replace(tzinfo=UTC)
        metrics.signing_key_age.labels(alg).set((now - created).total_seconds())
    metrics.gauges_refreshed.set(time.time())


def certificate_hosts(registry: Registry) -> list[tuple[str, int]]:
    """The issuer's host and every upstream endpoint's host served over https (configuration, never input)."""
    urls: list[str | None] = [registry.settings.issuer]
    for config in registry.settings.upstream_configs():
        urls += [
            config.issuer,
            config.authorization_endpoint,
            config.token_endpoint,
            config.userinfo_endpoint,
        ]
    return certificates.https_hosts(urls)


async def refresh_certificates(registry: Registry) -> None:
    """Reads each host's certificate; a host that cannot be reached keeps its last reading (and is logged):
    an unreachable upstream is VNeIDFailing's to report, not a certificate's."""
    timeout = registry.settings.vneid_connect_timeout_seconds
    for host, port in certificate_hosts(registry):
        try:
            expiry = await certificates.not_after(host, port, timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            log.warning("TLS certificate of %s:%d not read: %s", host, port, type(exc).__name__)
            continue
        registry.metrics.certificate_expiry.labels(f"{host}:{port}").set(expiry.timestamp())


async def run_refresher(registry: Registry) -> None:
    """Refreshes until cancelled; a database outage shows as ``broker_database_up 0``, not a dead task."""
    certificates_due = cleanup_due = 0.0
    while True:
        cleanup = time.monotonic() >= cleanup_due
        try:
            await refresh(registry, cleanup=cleanup)
            if cleanup:
                cleanup_due = time.monotonic() + registry.settings.cleanup_gauges_refresh_seconds
        except StoreUnavailable:
            log.warning("background gauges: database unavailable")
        except Exception:
            log.exception("background gauges failed")
        if time.monotonic() >= certificates_due:
            certificates_due = time.monotonic() + registry.settings.certificate_check_seconds
            try:
                await refresh_certificates(registry)
            except Exception:
                log.exception("certificate check failed")
        await asyncio.sleep(registry.settings.metrics_refresh_seconds)
