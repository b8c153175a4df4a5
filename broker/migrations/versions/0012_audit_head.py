"""the audit chain's lock and head in one round trip: audit_chain_head_locked() (PostgreSQL)

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# VOLATILE: its SELECT takes a snapshot of its own, after the lock is granted, so it sees the head that
# the previous holder committed (a SELECT beside the lock in one statement would read the statement's
# older snapshot). Issue 7: one round trip per audited transaction instead of two.
_FUNCTION = """
CREATE FUNCTION audit_chain_head_locked(lock_key bigint) RETURNS varchar AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    RETURN (SELECT chain_hash FROM audit_log ORDER BY id DESC LIMIT 1);
END $$ LANGUAGE plpgsql VOLATILE
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_chain_head_locked(bigint)")
