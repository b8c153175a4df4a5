"""a statement's own guard: expect_rows() refuses the whole statement when a write in it matched other
than the rows it had to (PostgreSQL)

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Issue 7: a login's last writes (the flow's guarded move, its new account and link, its session, its code,
# its audit rows) go out as one statement with no BEGIN and COMMIT around it. A guard (the flow still
# pending, not expired; the verified number not taken meanwhile) used to be a row count checked between two
# statements of a transaction; in one statement it is this call, and its error undoes every write of the
# statement. SQLSTATE BR001 is the broker's own refusal; 23505 (unique_violation) says a concurrent
# writer took the row first (broker.store.database translates both).
_FUNCTION = """
CREATE FUNCTION expect_rows(matched bigint, expected bigint, refusal text, sqlstate text DEFAULT 'BR001')
RETURNS boolean AS $$
BEGIN
    IF matched IS DISTINCT FROM expected THEN
        RAISE EXCEPTION USING ERRCODE = sqlstate, MESSAGE = refusal;
    END IF;
    RETURN true;
END $$ LANGUAGE plpgsql VOLATILE
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS expect_rows(bigint, bigint, text, text)")
