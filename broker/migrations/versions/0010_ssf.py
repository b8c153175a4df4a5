"""issue 13: shared signals (SSF streams and their queue), commit-ordered outbox positions, client_accounts

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("account_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("position", sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f("ix_account_events_position"), ["position"], unique=True)
    # Events written before this revision were committed long ago: their id order is their commit order.
    op.execute("UPDATE account_events SET position = id")

    op.create_table(
        "client_accounts",
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("client_id", "account_id"),
    )
    with op.batch_alter_table("client_accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_client_accounts_account_id"), ["account_id"], unique=False)
    # Who dealt with whom so far: every access token and authorization code ever kept.
    op.execute(
        "INSERT INTO client_accounts (client_id, account_id, first_seen_at) "
        "SELECT client_id, account_id, MIN(created_at) FROM ("
        " SELECT client_id, account_id, created_at FROM access_tokens"
        " UNION ALL SELECT client_id, account_id, created_at FROM authorization_codes"
        ") AS seen GROUP BY client_id, account_id"
    )

    op.create_table(
        "ssf_streams",
        sa.Column("stream_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("delivery_method", sa.String(length=40), nullable=False),
        sa.Column("endpoint_url", sa.Text(), nullable=True),
        sa.Column("authorization_header", sa.Text(), nullable=True),
        sa.Column("events_requested", sa.JSON(), nullable=False),
        sa.Column("events_delivered", sa.JSON(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("push_due_at", sa.DateTime(), nullable=False),
        sa.Column("push_failures", sa.Integer(), nullable=False),
        sa.Column("last_push_error", sa.String(length=100), nullable=True),
        sa.Column("last_verification_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("stream_id"),
        sa.UniqueConstraint("client_id"),
    )
    with op.batch_alter_table("ssf_streams", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ssf_streams_push_due_at"), ["push_due_at"], unique=False)

    op.create_table(
        "ssf_sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stream_id", sa.String(length=64), nullable=False),
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("claims", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("jti"),
    )
    with op.batch_alter_table("ssf_sets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ssf_sets_stream_id"), ["stream_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ssf_sets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ssf_sets_stream_id"))
    op.drop_table("ssf_sets")
    with op.batch_alter_table("ssf_streams", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ssf_streams_push_due_at"))
    op.drop_table("ssf_streams")
    with op.batch_alter_table("client_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_client_accounts_account_id"))
    op.drop_table("client_accounts")
    with op.batch_alter_table("account_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_events_position"))
        batch_op.drop_column("position")
