"""The two PostgreSQL roles of a deployment (docs/database-roles.md).

The owner creates and migrates the schema (`broker db upgrade`) and owns every table, audit_log included;
the application role that `broker serve` connects as owns nothing: it reads and writes the tables it needs,
and may only read and append to audit_log, so it can neither UPDATE, DELETE nor TRUNCATE the trail nor
switch its triggers off (only an owner can). These are the statements the owner runs once per role.
"""

from __future__ import annotations

import re

_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def app_role_grants(role: str) -> list[str]:
    """GRANT statements that give ``role`` what `broker serve` needs, and no more on the audit trail."""
    if not _ROLE_NAME.fullmatch(role):
        raise ValueError("a role name is lower-case letters, digits and underscores")
    return [
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        # The audit trail: read and append only.
        f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM {role}",
        # Tables that later migrations create get the same, without another round of grants.
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {role}",
    ]
