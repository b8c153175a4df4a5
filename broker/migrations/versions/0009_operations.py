"""issue 12: production operations

No schema change: signing keys are sealed in place (the ``private_pem`` text column now holds
``enc-v1.`` envelopes) by ``broker db upgrade`` after the revisions and by ``broker keys rewrap``, which
need the key-encryption key that a migration must not depend on.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
