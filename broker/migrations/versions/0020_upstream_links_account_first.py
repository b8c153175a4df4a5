"""upstream_links: the one-identity-per-issuer constraint led by the account, not the issuer

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Led by the issuer, the (issuer, account_id) index matched a login's lookup by (issuer, subject) as well
# as the (issuer, subject) index did. PostgreSQL plans a prepared statement once for all its parameters,
# and a plan it made while the table was empty (a fresh deployment) chose the former: every VNeID login
# then read every link of VNeID's issuer, a cost that grew with the citizens linked (issue 7, seventeenth
# round). Led by the account, the constraint still refuses a second identity of one issuer on an account,
# and no lookup by issuer can use it.


def upgrade() -> None:
    with op.batch_alter_table("upstream_links", schema=None) as batch_op:
        batch_op.drop_constraint("uq_upstream_links_issuer_account", type_="unique")
        batch_op.create_unique_constraint("uq_upstream_links_account_issuer", ["account_id", "issuer"])


def downgrade() -> None:
    with op.batch_alter_table("upstream_links", schema=None) as batch_op:
        batch_op.drop_constraint("uq_upstream_links_account_issuer", type_="unique")
        batch_op.create_unique_constraint("uq_upstream_links_issuer_account", ["issuer", "account_id"])
