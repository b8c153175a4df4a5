"""The neutral carrier between the upstream side and the OP side (SATOSA's InternalData).

The upstream module translates VNeID's ID token and userinfo into a ``VerifiedIdentity``; the login use
cases and the OP never see VNeID's wire format.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any


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

    def to_json(self) -> dict[str, Any]:
        """For the login flow row, while a Case 3 citizen chooses which account to keep."""
        data = asdict(self)
        data["birthdate"] = self.birthdate.isoformat() if self.birthdate else None
        data["auth_time"] = self.auth_time.isoformat()
        data["amr"] = list(self.amr)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VerifiedIdentity:
        return cls(
            **{
                **data,
                "birthdate": date.fromisoformat(data["birthdate"]) if data.get("birthdate") else None,
                "auth_time": datetime.fromisoformat(data["auth_time"]),
                "amr": tuple(data.get("amr", ())),
            }
        )
