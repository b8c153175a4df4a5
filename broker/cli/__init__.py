"""The ``broker`` command. One module per command group; this one puts them together."""

from __future__ import annotations

import typer

from broker.cli.audit import audit_app
from broker.cli.clients import clients_app, keys_app
from broker.cli.database import _alembic_config, db_app, upgrade_database
from broker.cli.legacy import legacy_app
from broker.cli.operations import accounts_app, maintenance_app, review_app
from broker.cli.report import report_app
from broker.cli.roles import roles_app
from broker.cli.serve import serve
from broker.cli.systems import systems_app
from broker.cli.upstreams import upstreams_app

__all__ = ["_alembic_config", "app", "main", "upgrade_database"]

# Locals are never shown in tracebacks: they can hold secrets and personal numbers.
app = typer.Typer(
    help="VNeID SSO broker", no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False
)
app.command()(serve)
for group, name in (
    (db_app, "db"),
    (clients_app, "clients"),
    (keys_app, "keys"),
    (legacy_app, "legacy"),
    (roles_app, "roles"),
    (review_app, "review"),
    (accounts_app, "accounts"),
    (report_app, "report"),
    (maintenance_app, "maintenance"),
    (audit_app, "audit"),
    (upstreams_app, "upstreams"),
    (systems_app, "systems"),
):
    app.add_typer(group, name=name)


def main() -> None:
    from pydantic import ValidationError

    from broker.errors import StoreUnavailable

    try:
        app()
    except ValidationError as error:
        # A bad BROKER_* value: say which and why, without a traceback (issue 8, item 10).
        for problem in error.errors():
            name = "_".join(str(part) for part in problem["loc"]).upper()
            typer.echo(f"error: {'BROKER_' + name + ': ' if name else ''}{problem['msg']}", err=True)
        raise SystemExit(2) from None
    except StoreUnavailable as error:
        typer.echo(
            f"error: the database is unavailable or not migrated ({error}); run `broker db upgrade`", err=True
        )
        raise SystemExit(1) from None
