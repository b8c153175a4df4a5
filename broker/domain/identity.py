"""The neutral carrier between the upstream side and the OP side (SATOSA's InternalData).

The upstream module translates VNeID's ID token and userinfo into a ``VerifiedIdentity``; the login use
cases and the OP never see VNeID's wire format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True)
class VerifiedIdentity:
    issuer: str
    subject: str
    identification_number: str | None
    old_identification_number: str | None
    name: str | None
    birthdate: date | None
    gender: str | None
    level: int  # VNeID level of assurance: 1, or 2 when verified in person
    acr: str
    amr: tuple[str, ...]
    auth_time: datetime
    extra: dict[str, str] = field(default_factory=dict)
