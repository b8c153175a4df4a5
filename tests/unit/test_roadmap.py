"""The projected date to 100 % linked, from a fixed series of daily snapshots (issue 9, the "lộ trình")."""

from __future__ import annotations

from datetime import date

from broker.domain.roadmap import Point, pace_per_day, projected_date


def test_a_steady_pace_gives_the_day_the_rest_is_linked() -> None:
    series = [
        Point(date(2024, 7, 1), 10, 100),
        Point(date(2024, 7, 2), 20, 100),
        Point(date(2024, 7, 3), 30, 100),
    ]
    assert pace_per_day(series) == 10.0
    assert projected_date(series) == date(2024, 7, 10)  # 70 left at 10 a day


def test_gaps_and_an_odd_day_are_smoothed_by_least_squares() -> None:
    series = [
        Point(date(2024, 7, 1), 100, 1000),
        Point(date(2024, 7, 3), 160, 1000),  # a day without a snapshot
        Point(date(2024, 7, 4), 190, 1000),
        Point(date(2024, 7, 5), 250, 1010),  # a busy day, and ten accounts imported
    ]
    # slope = 35.714... accounts a day; 760 left -> ceil(21.28) = 22 days after 5/7
    assert projected_date(series) == date(2024, 7, 27)


def test_no_progress_promises_no_date_and_done_is_today() -> None:
    flat = [Point(date(2024, 7, 1), 50, 100), Point(date(2024, 7, 2), 50, 100)]
    assert projected_date(flat) is None
    assert projected_date([Point(date(2024, 7, 1), 50, 100)]) is None
    assert projected_date([Point(date(2024, 7, 2), 100, 100)]) == date(2024, 7, 2)
    assert projected_date([]) is None
