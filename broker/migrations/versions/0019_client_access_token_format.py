"""clients.access_token_format: a client's own access token format

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The broker's default became opaque access tokens. The clients registered before it keep the RFC 9068
# JWTs they were given, which their resource servers may verify with the JWKS; `broker clients update
# --access-token-format default` moves one to the broker's default. NULL: the broker's default.


def upgrade() -> None:
    op.add_column("clients", sa.Column("access_token_format", sa.String(length=10), nullable=True))
    op.execute("UPDATE clients SET access_token_format = 'jwt'")


def downgrade() -> None:
    op.drop_column("clients", "access_token_format")
