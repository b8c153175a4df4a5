"""Unit codes to names: the 2024 three-level list of legacy exports, and today's units (since 1/7/2025)."""

from __future__ import annotations

from broker.domain import units
from broker.domain.units import Level


def test_a_commune_code_resolves_to_its_names_then_and_now() -> None:
    unit = units.resolve("17380")
    assert (unit.name, unit.level, unit.province_code) == ("Xã Khai Sơn", Level.COMMUNE, "40")
    assert (unit.current_province, unit.current_commune) == ("Nghệ An", "Xã Yên Xuân")
    assert units.resolve("424").name == "Huyện Anh Sơn"
    assert units.resolve("40").name == "Tỉnh Nghệ An"


def test_merged_provinces_map_to_the_province_they_joined() -> None:
    assert units.resolve("02").current_province == "Tuyên Quang"  # Hà Giang
    assert units.resolve("74").current_province == "Thành phố Hồ Chí Minh"  # Bình Dương


def test_codes_roll_up_but_never_down() -> None:
    assert units.roll_up("17380", Level.PROVINCE) == "40"
    assert units.roll_up("17380", Level.DISTRICT) == "424"
    assert units.roll_up("424", Level.COMMUNE) == "424"
    assert units.roll_up("99999", Level.PROVINCE) == "99999"  # unknown to the list: left as it is
    assert units.roll_up(None, Level.PROVINCE) == units.UNKNOWN


def test_unknown_codes_and_missing_units_are_explicit() -> None:
    assert units.resolve("99999").name is None
    assert units.resolve("").code == units.UNKNOWN and units.resolve(None).name == "Không xác định"


def test_an_account_created_at_a_first_vneid_login_gets_the_rp_unit_then_the_claimed_one() -> None:
    assert units.for_first_login("17380", "00001") == "17380"
    assert units.for_first_login(None, "00001") == "00001"
    assert units.for_first_login("nonsense", None) == units.UNKNOWN
    assert units.for_first_login(None, None) == units.UNKNOWN
