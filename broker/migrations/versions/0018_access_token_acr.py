"""access_tokens.acr: the assurance level a token was issued at

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Opaque access tokens (BROKER_ACCESS_TOKEN_FORMAT=opaque) carry no claims, so introspection reads the
# token's acr from its row; JWT access tokens get it too. NULL for tokens issued before.


def upgrade() -> None:
    op.add_column("access_tokens", sa.Column("acr", sa.String(length=100), nullable=True))


def downgrade() -> None:
    op.drop_column("access_tokens", "acr")
