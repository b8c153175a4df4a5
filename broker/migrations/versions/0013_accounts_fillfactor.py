"""accounts leave a tenth of each page free (PostgreSQL fillfactor 90)

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Issue 9: a legacy import fills the table's pages to the brim, so a login's UPDATE of its account
# (updated_at, the link's class; no indexed column) found no room on the row's page and wrote a new
# version elsewhere with an entry in each of the seven indexes: 34 KB of log instead of 82 bytes, about
# 1 ms a first login at a million accounts (EXPLAIN in bench/README.md). With room left on the page the
# update stays on it (a HOT update). Pages written before this revision keep their fill until rewritten.


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE accounts SET (fillfactor = 90)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE accounts RESET (fillfactor)")
