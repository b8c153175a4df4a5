"""issue 8: hardening: the audit trail refuses TRUNCATE and is chained by hash

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0002's triggers refuse UPDATE; sealing the records already there needs them off for that one step
# (the migration runs as the owner of audit_log; the application's role cannot do this).
_SUSPEND = {
    "postgresql": ["ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"],
    "sqlite": ["DROP TRIGGER IF EXISTS audit_log_no_update"],
}
_RESUME = {
    "postgresql": ["ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"],
    "sqlite": [
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
    ],
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column("audit_log", sa.Column("prev_hash", sa.String(length=64), nullable=True))
    op.add_column("audit_log", sa.Column("chain_hash", sa.String(length=64), nullable=True))
    for statement in _SUSPEND.get(dialect, []):
        op.execute(statement)
    _seal_existing_records()
    for statement in _RESUME.get(dialect, []):
        op.execute(statement)
    if dialect == "postgresql":
        # TRUNCATE fires no row trigger: a statement trigger refuses it (SQLite has no TRUNCATE; its
        # "DELETE FROM" without WHERE runs the row trigger and is refused).
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
    # A plain DROP COLUMN (SQLite >= 3.35): a batch rebuild of the table would lose 0002's triggers.
    op.execute("ALTER TABLE audit_log DROP COLUMN chain_hash")
    op.execute("ALTER TABLE audit_log DROP COLUMN prev_hash")


# The chain's canonical form, as broker.domain.audit_chain fixes it (a migration does not import the
# application; tests/store/test_migrations.py proves that records sealed here verify with the application's).
_GENESIS = "0" * 64


def _canonical(row: Any, at: datetime, details: Any) -> str:
    instant = at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo is not None else at
    document = {
        "at": instant.isoformat(timespec="microseconds"),
        "actor": row["actor"],
        "action": row["action"],
        "outcome": row["outcome"],
        "reason": row["reason"],
        "sub": row["sub"],
        "details": dict(details or {}),
    }
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _seal_existing_records() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT id, at, actor, action, outcome, reason, sub, details FROM audit_log ORDER BY id")
    )
    previous = _GENESIS
    for row in rows.mappings().all():
        at = row["at"] if isinstance(row["at"], datetime) else datetime.fromisoformat(row["at"])
        details = row["details"]
        if isinstance(details, str | bytes):
            details = json.loads(details)
        sealed = hashlib.sha256(f"{previous}\n{_canonical(row, at, details)}".encode()).hexdigest()
        connection.execute(
            sa.text("UPDATE audit_log SET prev_hash = :prev, chain_hash = :hash WHERE id = :id"),
            {"prev": previous, "hash": sealed, "id": row["id"]},
        )
        previous = sealed
