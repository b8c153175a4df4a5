"""access_tokens.token_hash: the SHA-256 of each signed access token

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Issue 7: userinfo and introspection recognise a token the broker issued by comparing its hash with the
# stored one (broker.oidc.keys.KeyRing.verify_issued) instead of checking its RSA signature again. Tokens
# issued before this migration have none and are verified by their signature, as before; no index: the
# row is found by its jti (the primary key).


def upgrade() -> None:
    op.add_column("access_tokens", sa.Column("token_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("access_tokens", "token_hash")
