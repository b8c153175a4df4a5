"""issue 7: performance — indexes for the batched purge (every condition of broker.store.purge is indexed)

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = [
    ("authorization_codes", "expires_at"),
    ("refresh_tokens", "expires_at"),
    ("sso_sessions", "expires_at"),
    ("sso_sessions", "ended_at"),
    ("backchannel_deliveries", "created_at"),
]


def upgrade() -> None:
    for table, column in INDEXES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def downgrade() -> None:
    for table, column in reversed(INDEXES):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_{column}"))
