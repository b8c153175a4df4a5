"""Clean-up classes at their edges, with real-looking numbers (issue 9; the CCCD structure is in
../shared/DESIGN.md's glossary: province 001-096, century/gender digit, two digits of the birth year)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from broker.domain.classification import Cleanup, Facts, cccd_birth, classify, label, name_key
from broker.domain.policy import Rules
from broker.settings import VIETNAM

TODAY = date(2024, 7, 2)


def citizen(**facts: object) -> Cleanup:
    return classify(Facts("citizen", **facts), TODAY)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("001085012345", Cleanup.CLEAN_UNLINKED),  # Hà Nội, 1985, male
        ("096185012345", Cleanup.CLEAN_UNLINKED),  # province 096, the last one
        ("000085012345", Cleanup.INVALID_ID),  # province 000 does not exist
        ("097085012345", Cleanup.INVALID_ID),  # nor 097
        ("001485012345", Cleanup.INVALID_ID),  # century digit 4: born 2185
        ("001924012345", Cleanup.INVALID_ID),  # 9: born 2424
        ("001225012345", Cleanup.INVALID_ID),  # 2: born 2025, after today
        ("001224012345", Cleanup.CLEAN_UNLINKED),  # 2: born 2024, this year
        ("00108501234", Cleanup.INVALID_ID),  # 11 digits
        ("00108501234X", Cleanup.INVALID_ID),
    ],
)
def test_the_structure_of_a_twelve_digit_number(number: str, expected: Cleanup) -> None:
    assert citizen(cccd=number) == expected


def test_century_and_gender_digits() -> None:
    assert cccd_birth("001085012345", TODAY) == (1985, "male")
    assert cccd_birth("001185012345", TODAY) == (1985, "female")
    assert cccd_birth("001203012345", TODAY) == (2003, "male")
    assert cccd_birth("001303012345", TODAY) == (2003, "female")
    assert cccd_birth("001400012345", TODAY) == (None, None)


def test_a_number_that_disagrees_with_the_record_is_inconsistent() -> None:
    assert citizen(cccd="001085012345", birth_date=date(1985, 3, 12), gender="male") == Cleanup.CLEAN_UNLINKED
    assert citizen(cccd="001085012345", birth_date=date(1986, 3, 12)) == Cleanup.INCONSISTENT_ID
    assert citizen(cccd="001085012345", gender="female") == Cleanup.INCONSISTENT_ID
    # A leap day: 29/2/2000 is a date, and the number's year 2000 (digit 2, "00") agrees with it.
    assert citizen(cccd="001200012345", birth_date=date(2000, 2, 29), gender="male") == Cleanup.CLEAN_UNLINKED
    assert citizen(cccd="001100012345", birth_date=date(2000, 2, 29)) == Cleanup.INCONSISTENT_ID  # 1900


def test_nine_and_twelve_digit_cmnd() -> None:
    assert citizen(cmnd="012345678") == Cleanup.CMND_ONLY
    assert citizen(cmnd="01234567") == Cleanup.INVALID_ID  # 8 digits
    assert citizen(cmnd="0123456789") == Cleanup.INVALID_ID  # 10 digits
    # A 12-digit card already carries the CCCD structure, and is judged by it.
    assert citizen(cmnd="001085012345", birth_date=date(1985, 1, 1)) == Cleanup.CLEAN_UNLINKED
    assert citizen(cmnd="099085012345") == Cleanup.INVALID_ID
    assert citizen() == Cleanup.NO_ID
    assert citizen(cccd="001085012345", cmnd="012345678") == Cleanup.CLEAN_UNLINKED


def test_organisations_and_foreigners_are_never_citizens_not_cleaned() -> None:
    assert classify(Facts("organisation", tax_code="0101234567"), TODAY) == Cleanup.ORGANISATION
    assert classify(Facts("organisation", tax_code="0101234567-001"), TODAY) == Cleanup.ORGANISATION
    assert classify(Facts("organisation", tax_code="0101234567001"), TODAY) == Cleanup.ORGANISATION
    assert classify(Facts("organisation", tax_code="01012345"), TODAY) == Cleanup.ORGANISATION_NO_TAX_CODE
    assert classify(Facts("organisation"), TODAY) == Cleanup.ORGANISATION_NO_TAX_CODE
    assert classify(Facts("foreigner", cccd="000000000000"), TODAY) == Cleanup.FOREIGNER


def test_merged_then_linked_then_duplicate_take_precedence() -> None:
    assert citizen(cccd="000", linked=True, merged=True) == Cleanup.MERGED
    assert citizen(cccd="000", linked=True) == Cleanup.LINKED
    assert citizen(cccd="001085012345", duplicate_suspect=True) == Cleanup.DUPLICATE_SUSPECT


def test_frozen_is_computed_from_the_policy_date_not_stored() -> None:
    rules = Rules(None, datetime(2024, 7, 1, tzinfo=VIETNAM), None, None, None)
    before, after = datetime(2024, 6, 30, 23, 59, tzinfo=VIETNAM), datetime(2024, 7, 1, tzinfo=VIETNAM)
    assert label(Cleanup.CMND_ONLY, "citizen", False, before, rules) == Cleanup.CMND_ONLY
    assert label(Cleanup.CMND_ONLY, "citizen", False, after, rules) == Cleanup.FROZEN
    assert label(Cleanup.LINKED, "citizen", False, after, rules) == Cleanup.LINKED
    assert label(Cleanup.ORGANISATION, "organisation", False, after, rules) == Cleanup.ORGANISATION
    assert label(Cleanup.NO_ID, "citizen", True, before, rules) == Cleanup.FROZEN  # frozen by the sweep


def test_names_are_matched_without_diacritics_case_or_extra_spaces() -> None:
    assert name_key("Nguyễn  Văn An") == name_key("NGUYEN VAN AN") == "nguyen van an"
    assert name_key("Đặng Thị Đào") == "dang thi dao"
    assert name_key("  ") is None
