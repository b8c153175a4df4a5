"""Display names of the legacy source systems, imported from a CSV file (``source_system,display_name``)
and shown to citizens and officers instead of the codes; ``BROKER_SOURCE_SYSTEM_NAMES`` overrides them."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import TextIO

from broker.registry import Registry
from broker.store import console as console_store

HEADER = ("source_system", "display_name")
MAX_CODE, MAX_NAME = 100, 200


class NamesFileError(ValueError):
    """The file cannot be used; says which line and why."""


def read_names(source: TextIO) -> dict[str, str]:
    rows: Iterable[list[str]] = csv.reader(source)
    names: dict[str, str] = {}
    for line, cells in enumerate(rows, start=1):
        if line == 1:
            if tuple(cell.strip() for cell in cells[:2]) != HEADER:
                raise NamesFileError(f"line 1: the header must be {','.join(HEADER)}")
            continue
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) < 2 or not cells[0].strip() or not cells[1].strip():
            raise NamesFileError(f"line {line}: a code and a name are required")
        code, name = cells[0].strip(), cells[1].strip()
        if len(code) > MAX_CODE or len(name) > MAX_NAME:
            raise NamesFileError(
                f"line {line}: longer than {MAX_CODE} (code) or {MAX_NAME} (name) characters"
            )
        names[code] = name
    return names


async def import_names(registry: Registry, names: dict[str, str]) -> int:
    async with registry.db.transaction() as session:
        await console_store.name_source_systems(session, names, registry.clock())
    return len(names)


async def all_names(registry: Registry) -> dict[str, str]:
    """Imported names, overridden by configured ones: what every page shows."""
    async with registry.db.read() as session:
        imported = await console_store.source_system_names(session)
    return {**imported, **registry.settings.source_system_names}
