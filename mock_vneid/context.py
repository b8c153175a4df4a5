"""Everything a request handler needs, built once by create_app."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from fastapi.templating import Jinja2Templates

from mock_vneid.citizens import CitizenDirectory
from mock_vneid.clock import Clock
from mock_vneid.faults import FaultBook
from mock_vneid.keys import KeyRing
from mock_vneid.qr_requests import QrBook
from mock_vneid.settings import MockSettings
from mock_vneid.store import MemoryStore


@dataclass
class MockContext:
    settings: MockSettings
    clock: Clock
    citizens: CitizenDirectory
    keys: KeyRing
    templates: Jinja2Templates
    store: MemoryStore = field(default_factory=MemoryStore)
    faults: FaultBook = field(default_factory=FaultBook)
    rp_public_key: RSAPublicKey | None = None  # vneid-gateway mode: what the bodies are encrypted for
    qr: QrBook = field(default_factory=QrBook)

    def now(self) -> datetime:
        return self.clock()
