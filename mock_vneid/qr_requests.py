"""QR login, as the VNeID app does it: the login page shows a one-time request as a QR code, the
citizen's phone (already signed in to the app) scans it and approves or rejects, and the login page,
polling, continues the authorization request it belongs to.

Two secrets per request, so that neither side can act for the other: ``poll_id`` stays in the login
page (it alone may turn an approval into a code), ``scan_token`` is what the QR code carries (it alone
may approve or reject). Both live in memory only, like the rest of the mock's state.
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

import segno

from mock_vneid.store import Expiries

QR_TTL = timedelta(minutes=2)


class QrStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


@dataclass
class QrRequest:
    poll_id: str
    scan_token: str
    request_id: str  # the pending authorization request the login page belongs to
    expires_at: datetime
    status: QrStatus = QrStatus.PENDING
    citizen_number: str | None = None
    decided_at: datetime | None = None

    def status_at(self, now: datetime) -> QrStatus:
        if self.status == QrStatus.PENDING and self.expires_at <= now:
            return QrStatus.EXPIRED
        return self.status


@dataclass
class QrBook:
    """The live QR requests, by poll id and by scan token; expired ones are dropped as new ones come."""

    by_poll: dict[str, QrRequest] = field(default_factory=dict)
    by_scan: dict[str, QrRequest] = field(default_factory=dict)
    _expiries: Expiries = field(default_factory=Expiries)  # of the poll ids

    def offer(self, request_id: str, now: datetime, ttl: timedelta = QR_TTL) -> QrRequest:
        self._purge(now)
        qr = QrRequest(secrets.token_urlsafe(24), secrets.token_urlsafe(24), request_id, now + ttl)
        self.by_poll[qr.poll_id] = qr
        self.by_scan[qr.scan_token] = qr
        self._expiries.add(qr.poll_id, qr.expires_at)
        return qr

    def polled(self, poll_id: str) -> QrRequest | None:
        return self.by_poll.get(poll_id)

    def scanned(self, scan_token: str) -> QrRequest | None:
        return self.by_scan.get(scan_token)

    def decide(
        self, scan_token: str, citizen_number: str | None, approve: bool, now: datetime
    ) -> QrRequest | None:
        """The phone's answer; only a pending, unexpired request takes one, and only once."""
        qr = self.by_scan.get(scan_token)
        if qr is None or qr.status_at(now) != QrStatus.PENDING:
            return None
        qr.status = QrStatus.APPROVED if approve else QrStatus.REJECTED
        qr.citizen_number = citizen_number if approve else None
        qr.decided_at = now
        return qr

    def consume(self, poll_id: str, now: datetime) -> QrRequest | None:
        """An approved request, once: the login page turns it into a code."""
        qr = self.by_poll.get(poll_id)
        if qr is None or qr.status_at(now) != QrStatus.APPROVED:
            return None
        self._drop(qr)
        return qr

    def _drop(self, qr: QrRequest) -> None:
        self.by_poll.pop(qr.poll_id, None)
        self.by_scan.pop(qr.scan_token, None)

    def _purge(self, now: datetime) -> None:
        # Decided requests go too once their two minutes are over: nothing grows with past logins.
        for poll_id in self._expiries.expired(now):
            qr = self.by_poll.get(poll_id)
            if qr is not None:
                self._drop(qr)


def qr_svg(content: str) -> str:
    """The QR code as an SVG document (segno), sized by CSS; error correction M as the app's.

    The mask is fixed: every one of the eight is a valid QR code (ISO/IEC 18004 §7.8), and scoring all
    eight for the most readable was four fifths of drawing it (bench/README.md, eighth round)."""
    out = io.BytesIO()
    segno.make(content, error="m", mask=0).save(
        out,
        kind="svg",
        border=2,
        svgclass="qr-code",
        omitsize=True,  # a viewBox alone: the page's CSS gives the size
        title="Mã QR đăng nhập VNeID",
        nl=False,
    )
    return out.getvalue().decode()
