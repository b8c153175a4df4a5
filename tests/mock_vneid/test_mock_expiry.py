"""Mock VNeID's memory keeps only what is still alive: expired requests, codes, tokens and QR requests
go as new ones come, whatever order they expire in, and nothing grows with past logins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mock_vneid.qr_requests import QrBook
from mock_vneid.store import ExpiringMap

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_expired_values_are_gone_and_live_ones_stay_whatever_their_order() -> None:
    values: ExpiringMap[int] = ExpiringMap()
    late = values.add(1, T0 + timedelta(minutes=10), T0)
    early = values.add(2, T0 + timedelta(minutes=1), T0)
    spent = values.add(3, T0 + timedelta(minutes=2), T0)
    values.discard(spent)
    now = T0 + timedelta(minutes=5)
    assert values.get(early, now) is None and values.get(late, now) == 1

    fresh = values.add(4, now + timedelta(minutes=1), now)
    assert set(values._entries) == {late, fresh}
    assert len(values._expiries) == 2  # the discarded value's place went with its expiry


def test_memory_stays_flat_over_many_logins() -> None:
    values: ExpiringMap[int] = ExpiringMap()
    book = QrBook()
    for second in range(5_000):
        now = T0 + timedelta(seconds=second)
        values.add(second, now + timedelta(seconds=60), now)
        book.offer(f"request-{second}", now, timedelta(seconds=120))
    assert len(values._entries) == len(values._expiries) == 60  # the last minute's
    assert len(book.by_poll) == len(book.by_scan) == len(book._expiries) == 120


def test_a_consumed_qr_request_leaves_nothing_behind_when_it_expires() -> None:
    book = QrBook()
    qr = book.offer("request", T0, timedelta(minutes=2))
    book.decide(qr.scan_token, "001099012345", approve=True, now=T0)
    assert book.consume(qr.poll_id, T0) is qr
    book.offer("next", T0 + timedelta(minutes=3), timedelta(minutes=2))
    assert list(book.by_poll) != [qr.poll_id] and len(book._expiries) == 1
