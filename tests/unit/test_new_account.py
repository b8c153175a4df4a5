"""A first login's account is built with its id, unit and class (issue 7, sixteenth round): the same values
as the account built first and classified after, by ``setattr`` (``cleanup.classify_new``), for every
kind of identity VNeID may give."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from broker.domain.identity import VerifiedIdentity
from broker.login.link_account import new_account
from broker.store import cleanup

NOW = datetime(2024, 7, 2, 3, 0, tzinfo=UTC)
COLUMNS = ("unit_code", "cleanup_class", "name_key", "identification_number", "name", "birthdate", "status")


def identity(**given: object) -> VerifiedIdentity:
    values: dict[str, object] = {
        "issuer": "https://vneid.example",
        "subject": "s-1",
        "identification_number": "001085012345",
        "old_identification_number": None,
        "name": "Nguyễn  Văn An",
        "birthdate": date(1985, 3, 4),
        "gender": "male",
        "level": 2,
        "acr": "urn:vn:level2",
        "amr": ("pwd",),
        "auth_time": NOW,
    }
    return VerifiedIdentity(**(values | given))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "given",
    [
        {},
        {"name": None},  # no name: no name key
        {"birthdate": None, "gender": None},
        {"old_identification_number": "012345678"},
        {"identification_number": "000085012345"},  # a number no province issues
        {"identification_number": None},
    ],
)
@pytest.mark.parametrize("units", [(None, None), ("79", None), (None, "01"), ("79", "01")])
def test_built_with_its_class_as_classified_after(given: dict[str, object], units: tuple[str, str]) -> None:
    verified = identity(**given)
    built = new_account(verified, units, NOW, 42)
    after = new_account(verified, None, NOW)
    cleanup.classify_new(after, *units, NOW)
    assert built.id == 42
    assert {name: getattr(built, name) for name in COLUMNS} == {
        name: getattr(after, name) for name in COLUMNS
    }
    assert built.cleanup_class is not None


def test_without_units_nothing_is_classified() -> None:
    account = new_account(identity(), None, NOW)
    assert account.id is None
    assert account.unit_code is None
    assert account.cleanup_class is None
