"""The seed: every citizen obeys the CCCD structure, the demo citizens are there, and bad seeds fail loudly."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from mock_vneid.citizens import CitizenSeedError, load_citizens
from mock_vneid.settings import MockSettings, packaged_citizens_file

SEED: list[dict[str, Any]] = json.loads(packaged_citizens_file().read_text(encoding="utf-8"))
BY_NUMBER = {c["identification_number"]: c for c in SEED}
DAY = date(2026, 11, 22)


def age_on(birthdate: str, day: date) -> int:
    born = date.fromisoformat(birthdate)
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


@pytest.mark.parametrize("citizen", SEED, ids=[c["identification_number"] for c in SEED])
def test_every_seed_citizen_obeys_the_cccd_structure(citizen: dict[str, Any]) -> None:
    # Written out again here, from DESIGN.md's glossary, rather than calling the code under test.
    number, born = citizen["identification_number"], date.fromisoformat(citizen["birthdate"])
    assert len(number) == 12 and number.isdigit()
    assert 1 <= int(number[:3]) <= 96
    century = {0: 1900, 1: 1900, 2: 2000, 3: 2000, 4: 2100, 5: 2100}[int(number[3])]
    assert century <= born.year < century + 100
    assert int(number[3]) % 2 == (1 if citizen["gender"] == "female" else 0)
    assert number[4:6] == f"{born.year % 100:02d}"
    assert citizen["level"] in (1, 2)
    assert citizen["password"]
    if "old_identification_number" in citizen:
        assert len(citizen["old_identification_number"]) == 9
        assert citizen["old_identification_number"].isdigit()


def test_seed_has_the_variety_the_broker_tests_need() -> None:
    assert len(SEED) >= 24
    assert len(BY_NUMBER) == len(SEED)
    assert {c["level"] for c in SEED} == {1, 2}
    assert sum("old_identification_number" in c for c in SEED) >= 4
    assert any(age_on(c["birthdate"], DAY) < 18 for c in SEED)
    assert sum(c["identification_number"][3] in "23" for c in SEED) >= 4
    assert any(any(ch in c["name"] for ch in "ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệ") for c in SEED)


@pytest.mark.parametrize(
    ("number", "name", "birthdate", "gender", "level", "cmnd"),
    [
        ("001085012345", "Nguyễn Văn An", "1985-03-12", "male", 2, "012345678"),
        ("001190023456", "Trần Thị Bình", "1990-07-25", "female", 2, "023456789"),
        ("038303004567", "Lê Minh Châu", "2003-11-02", "female", 1, None),
        ("079212005678", "Phạm Gia Huy", "2012-05-14", "male", 1, None),
    ],
)
def test_demo_citizens_the_broker_data_matches(
    number: str, name: str, birthdate: str, gender: str, level: int, cmnd: str | None
) -> None:
    citizen = BY_NUMBER[number]
    assert (citizen["name"], citizen["birthdate"], citizen["gender"], citizen["level"]) == (
        name,
        birthdate,
        gender,
        level,
    )
    assert citizen.get("old_identification_number") == cmnd
    assert citizen["password"] == "Vneid@2024"


def test_the_minor_is_under_18_on_the_reference_day() -> None:
    assert age_on(BY_NUMBER["079212005678"]["birthdate"], DAY) == 14


def test_the_packaged_seed_loads() -> None:
    assert len(load_citizens(packaged_citizens_file())) == len(SEED)


GOOD = {
    "identification_number": "001085012345",
    "password": "p",
    "name": "Nguyễn Văn An",
    "birthdate": "1985-03-12",
    "gender": "male",
    "level": 2,
}


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"identification_number": "00108501234"}, "12 digits"),
        ({"identification_number": "0010850123a5"}, "12 digits"),
        ({"identification_number": "097085012345"}, "province code 097"),
        ({"identification_number": "000085012345"}, "province code 000"),
        ({"identification_number": "001185012345"}, "digit 4 is 1"),
        ({"identification_number": "001285012345"}, "digit 4 is 2"),
        ({"identification_number": "001086012345"}, "digits 5–6 are 86"),
        ({"gender": "female"}, "digit 4 is 0"),
        ({"gender": "other"}, "gender"),
        ({"birthdate": "12/03/1985"}, "YYYY-MM-DD"),
        ({"birthdate": "1985-02-30"}, "birthdate"),
        ({"birthdate": "1885-03-12"}, "cannot be encoded"),
        ({"level": 3}, "level"),
        ({"password": ""}, "password"),
        ({"name": None}, "name"),
        ({"old_identification_number": "12345"}, "9 (or 12) digits"),
        ({"old_identification_number": "001085012345"}, "repeats identification_number"),
        ({"phone_number": "call me"}, "phone_number"),
        ({"email": "nobody"}, "e-mail"),
    ],
)
def test_a_malformed_record_fails_loudly_naming_record_and_fault(
    tmp_path: Path, change: dict[str, Any], complaint: str
) -> None:
    path = tmp_path / "citizens.json"
    record = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    path.write_text(
        json.dumps(
            [
                GOOD
                | {"identification_number": "001190023456", "gender": "female", "birthdate": "1990-07-25"},
                record,
            ]
        ),
        encoding="utf-8",
    )

    with pytest.raises(CitizenSeedError) as failure:
        load_citizens(path)

    message = str(failure.value)
    assert str(path) in message
    assert "record 2" in message
    assert complaint in message


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("not json", "not valid JSON"),
        ("{}", "non-empty JSON list"),
        ("[]", "non-empty JSON list"),
        (json.dumps([GOOD, GOOD]), "appears twice"),
        (
            json.dumps(
                [
                    GOOD | {"old_identification_number": "012345678"},
                    GOOD
                    | {
                        "identification_number": "001190023456",
                        "gender": "female",
                        "birthdate": "1990-07-25",
                        "old_identification_number": "012345678",
                    },
                ]
            ),
            "old_identification_number is also 001085012345's",
        ),
    ],
)
def test_a_malformed_file_fails_loudly(tmp_path: Path, content: str, complaint: str) -> None:
    path = tmp_path / "citizens.json"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(CitizenSeedError, match=complaint):
        load_citizens(path)


def test_a_missing_file_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(CitizenSeedError, match="cannot be read"):
        load_citizens(tmp_path / "absent.json")


def test_the_app_refuses_to_start_on_a_bad_seed(make_app: Callable[..., FastAPI], tmp_path: Path) -> None:
    path = tmp_path / "citizens.json"
    path.write_text(json.dumps([GOOD | {"gender": "female"}]), encoding="utf-8")

    with pytest.raises(CitizenSeedError, match="digit 4"):
        make_app(citizens_file=path)


def test_extra_fields_are_allowed(tmp_path: Path) -> None:
    path = tmp_path / "citizens.json"
    path.write_text(json.dumps([GOOD | {"address": "Hà Nội"}]), encoding="utf-8")

    assert len(load_citizens(path)) == 1


@pytest.mark.parametrize("variable", ["MOCK_VNEID_CITIZENS", "MOCK_VNEID_CITIZENS_FILE"])
def test_citizens_file_is_read_from_either_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str
) -> None:
    monkeypatch.setenv(variable, str(tmp_path / "mine.json"))

    assert MockSettings().citizens_file == tmp_path / "mine.json"
