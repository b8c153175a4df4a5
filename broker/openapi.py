"""Writes the broker's OpenAPI document as YAML: ``python -m broker.openapi > openapi.yaml``.

The committed ``openapi.yaml`` is checked against this output by tests/test_openapi.py.
"""

from __future__ import annotations

import sys

import yaml

from broker.app import create_app
from broker.settings import Settings


def document() -> str:
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    return yaml.safe_dump(app.openapi(), sort_keys=True, allow_unicode=True)


if __name__ == "__main__":
    sys.stdout.write(document())
