"""clients: every committed change announced by NOTIFY broker_clients (PostgreSQL)

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Issue 7: each broker process keeps the enabled clients /authorize reads (broker.store.clients.
# EnabledClients) only while it listens on this channel. A trigger, not a NOTIFY in the application's
# writes, so that every writer (the CLI, the console, a later tool, an operator's SQL) is announced; one
# per statement, since a reader drops its whole cache on any change. The NOTIFY is delivered when, and
# only if, the change commits. The channel's name is broker.store.notifications.CLIENTS.

_FUNCTION = """
CREATE FUNCTION broker_clients_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NOTIFY broker_clients;
    RETURN NULL;
END
$$
"""

_TRIGGER = """
CREATE TRIGGER clients_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON clients
FOR EACH STATEMENT EXECUTE FUNCTION broker_clients_changed()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_FUNCTION)
        op.execute(_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER clients_changed ON clients")
        op.execute("DROP FUNCTION broker_clients_changed()")
