"""accounts.cleanup_class without its index

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Issue 9: no query looks accounts up by their class (the report and the gauges group every account, the
# reconcile marks by id, the unclassified are paged by id), but the index made every change of class
# (a first login's link, the reconcile marking 149,000 duplicate suspects at a million accounts) write a
# new row version with an entry in each of the table's indexes: on PostgreSQL a row whose indexed columns
# stay the same is updated in place on its page (with migration 0013's room), its indexes untouched.


def upgrade() -> None:
    op.drop_index("ix_accounts_cleanup_class", table_name="accounts")


def downgrade() -> None:
    op.create_index("ix_accounts_cleanup_class", "accounts", ["cleanup_class"])
