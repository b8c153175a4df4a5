"""The clean-up roadmap (lộ trình): when every citizen account will be linked, at the current pace.

Pure: a series of daily snapshots in, a date out. The pace is the least-squares slope of linked accounts
per day over the series, so one odd day moves it less than a first-to-last difference would.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class Point:
    day: date
    linked: int
    accounts: int

    @property
    def share(self) -> float:
        return self.linked / self.accounts if self.accounts else 1.0


def pace_per_day(points: Sequence[Point]) -> float:
    """Accounts linked per day (least squares); 0.0 with fewer than two days."""
    if len(points) < 2:
        return 0.0
    xs = [(point.day - points[0].day).days for point in points]
    ys = [point.linked for point in points]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


def projected_date(points: Sequence[Point]) -> date | None:
    """The day the last snapshot's accounts would all be linked at the current pace: the last day when it is
    done already, None when the pace is nil or negative (no date can be promised)."""
    if not points:
        return None
    ordered = sorted(points, key=lambda point: point.day)
    last = ordered[-1]
    remaining = last.accounts - last.linked
    if remaining <= 0:
        return last.day
    pace = pace_per_day(ordered)
    if pace <= 0:
        return None
    return last.day + timedelta(days=math.ceil(remaining / pace))
