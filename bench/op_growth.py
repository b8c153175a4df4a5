"""Issue 7's benchmark: growth (filled in below)."""

from __future__ import annotations

from typing import Any


async def growth_phases(stack: Any, op: Any, citizens: list[str], args: Any) -> dict[str, Any]:
    return {}
