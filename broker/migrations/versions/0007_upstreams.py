"""issue 10: real upstreams

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Which upstream a login went to, and the upstream session a broker session must end too.
    with op.batch_alter_table("login_flows", schema=None) as batch_op:
        batch_op.add_column(sa.Column("upstream_id", sa.String(length=32), nullable=True))
    with op.batch_alter_table("sso_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("upstream_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("upstream_logout_uri", sa.Text(), nullable=True))
    op.create_table(
        "verified_numbers",
        sa.Column("identification_number", sa.String(length=12), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("identification_number"),
    )
    with op.batch_alter_table("verified_numbers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_verified_numbers_account_id"), ["account_id"], unique=False)
    # Accounts already linked to an upstream hold a verified number: the oldest such account keeps it.
    op.execute(
        "INSERT INTO verified_numbers (identification_number, account_id, created_at) "
        "SELECT a.identification_number, MIN(a.id), MIN(a.created_at) FROM accounts a "
        "WHERE a.identification_number IS NOT NULL AND a.merged_into_id IS NULL "
        "AND EXISTS (SELECT 1 FROM upstream_links l WHERE l.account_id = a.id) "
        "GROUP BY a.identification_number"
    )


def downgrade() -> None:
    with op.batch_alter_table("verified_numbers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verified_numbers_account_id"))
    op.drop_table("verified_numbers")
    with op.batch_alter_table("sso_sessions", schema=None) as batch_op:
        batch_op.drop_column("upstream_logout_uri")
        batch_op.drop_column("upstream_id")
    with op.batch_alter_table("login_flows", schema=None) as batch_op:
        batch_op.drop_column("upstream_id")
