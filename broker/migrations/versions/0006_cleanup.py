"""issue 9: clean-up at scale

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("cleanup_class", sa.String(length=30), nullable=True))
    op.add_column("accounts", sa.Column("name_key", sa.String(length=200), nullable=True))
    op.create_index("ix_accounts_cleanup_class", "accounts", ["cleanup_class"])
    op.create_index("ix_accounts_name_key_birthdate", "accounts", ["name_key", "birthdate"])
    op.add_column("legacy_accounts", sa.Column("content_hash", sa.String(length=32), nullable=True))
    # Classes that need no number check are set here; citizens are classified by the next import or
    # `broker legacy reconcile`, which classifies every account still without a class.
    op.execute(
        "UPDATE accounts SET cleanup_class = CASE"
        " WHEN merged_into_id IS NOT NULL OR status = 'merged' THEN 'merged'"
        " WHEN EXISTS (SELECT 1 FROM upstream_links l WHERE l.account_id = accounts.id) THEN 'linked'"
        " WHEN account_type = 'foreigner' THEN 'foreigner'"
        " ELSE NULL END"
    )
    op.create_table(
        "cleanup_snapshots",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("unit_code", sa.String(length=20), nullable=False),
        sa.Column("account_type", sa.String(length=20), nullable=False),
        sa.Column("accounts", sa.Integer(), nullable=False),
        sa.Column("linked", sa.Integer(), nullable=False),
        sa.Column("not_cleaned", sa.Integer(), nullable=False),
        sa.Column("frozen", sa.Integer(), nullable=False),
        sa.Column("under_review", sa.Integer(), nullable=False),
        sa.Column("merged", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("day", "unit_code", "account_type"),
    )
    op.create_table(
        "reconcile_groups",
        sa.Column("group_key", sa.String(length=64), nullable=False),
        sa.Column("review_item_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("group_key"),
    )


def downgrade() -> None:
    op.drop_table("reconcile_groups")
    op.drop_table("cleanup_snapshots")
    with op.batch_alter_table("legacy_accounts") as batch:
        batch.drop_column("content_hash")
    op.drop_index("ix_accounts_name_key_birthdate", table_name="accounts")
    op.drop_index("ix_accounts_cleanup_class", table_name="accounts")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("name_key")
        batch.drop_column("cleanup_class")
