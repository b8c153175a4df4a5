from datetime import date

import pytest

from broker.domain.identity_numbers import agrees_with, is_cccd, is_cmnd, mask, parse_cccd


@pytest.mark.parametrize(
    ("number", "gender", "century"),
    [
        ("001085012345", "male", 1900),
        ("001190023456", "female", 1900),
        ("038203004567", "male", 2000),
        ("038303004567", "female", 2000),
        ("096412000001", "male", 2100),
    ],
)
def test_digit_four_carries_gender_and_century(number: str, gender: str, century: int) -> None:
    facts = parse_cccd(number)
    assert facts is not None
    assert (facts.gender, facts.birth_year_century) == (gender, century)


@pytest.mark.parametrize(
    "number", ["000085012345", "097085012345", "00108501234", "0010850123456", "00108501234x"]
)
def test_invalid_numbers_are_not_cccd(number: str) -> None:
    assert not is_cccd(number)


def test_birth_year_and_gender_must_agree() -> None:
    assert agrees_with("001085012345", date(1985, 3, 12), "male")
    assert not agrees_with("001085012345", date(1986, 3, 12), "male")
    assert not agrees_with("001085012345", date(1985, 3, 12), "female")
    assert agrees_with("001085012345", None, None)


def test_cmnd_has_nine_or_twelve_digits() -> None:
    assert is_cmnd("012345678")
    assert is_cmnd("012345678901")
    assert not is_cmnd("0123456789")


def test_masking_keeps_only_the_ends() -> None:
    assert mask("001085012345") == "001******345"
    assert mask("012345678") == "012***678"
    assert mask(None) == ""
