"""upstream_links: the index on account_id alone dropped, the (account_id, issuer) constraint serves its reads

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Since 0020 the one-identity-per-issuer constraint is led by the account: its index answers every read by
# account_id (an account's links, the foreign key's checks when an account goes) as the single-column
# index did, which every first login's link still had to update (issue 7, eighteenth round).


def upgrade() -> None:
    with op.batch_alter_table("upstream_links", schema=None) as batch_op:
        batch_op.drop_index("ix_upstream_links_account_id")


def downgrade() -> None:
    with op.batch_alter_table("upstream_links", schema=None) as batch_op:
        batch_op.create_index("ix_upstream_links_account_id", ["account_id"], unique=False)
