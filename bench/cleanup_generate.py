"""A realistic synthetic legacy export (issue 9): what a province's old procedure systems hold.

    .venv/bin/python bench/cleanup_generate.py --rows 1000000 --out var/export.csv [--jsonl] [--seed 9]
        [--province 40] [--changed-every 20 --new-from N]

Written as a stream (constant memory), in the contract's CSV (or JSON Lines). The mix, per 100 rows:
citizens 93 (valid CCCD consistent with the record 52, CMND only 19, no number 8, invalid number 3 —
provinces 000/097+, 10/11 digits, a century digit of the future —, inconsistent birth year or gender 3,
Case 3 pairs of a CMND account and a CCCD account with one name and birth date 6, one CCCD in two old
systems 2), organisations 5 (a tax code of 10 digits, a branch's 13, or none) and foreigners 2. Names are
Vietnamese with diacritics; unit codes are real communes of one 2024 province (Nghệ An by default); every
hash scheme of the contract appears (argon2id and bcrypt hashes are drawn from a small pool made once:
hashing a million passwords would time the hashing, not the import).

``--changed-every K --new-from N`` makes the "newer export": one row in K changed (a new phone number),
and rows numbered from N on are new, so that importing it after the first shows only what changed.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from broker.admin.legacy_csv import HEADER
from broker.domain import passwords, units

SURNAMES = "Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý Đinh Trịnh Lâm Mai".split()
MIDDLE_MALE = "Văn Hữu Đức Minh Quốc Thanh Công Xuân Đình Ngọc".split()
MIDDLE_FEMALE = "Thị Ngọc Thu Thanh Hoài Minh Kim Thùy Diệu Phương".split()
GIVEN_MALE = "An Bình Cường Dũng Hải Hiếu Hùng Khánh Long Minh Nam Phúc Quang Quân Sơn Tâm Thắng Tuấn Việt Vinh".split()
GIVEN_FEMALE = (
    "Anh Châu Dung Giang Hà Hạnh Hoa Hương Lan Linh Mai Nga Ngọc Phương Thảo Trang Tú Vân Yến Xuân".split()
)
FOREIGN = [
    "Anna Schmidt",
    "John Smith",
    "Kim Min-jun",
    "Tanaka Yuki",
    "Li Wei",
    "Marie Dubois",
    "Somchai Dee",
]
COMPANIES = "Sen Vàng|Hoa Mai|Trường Sơn|Bắc Trung Bộ|Lam Hồng|Phú Thành|An Khang|Đại Việt".split("|")
SYSTEMS = ("dvc-tinh", "mc-huyen", "tthc-so")
PASSWORD = "Matkhau@123"


def hash_pool() -> list[tuple[str, str]]:
    import bcrypt

    md5 = hashlib.md5(PASSWORD.encode(), usedforsecurity=False).hexdigest()
    pool = [(md5, "md5")] * 4
    for salt in ("s4lt", "q7Zk2", "x9"):
        pool.append((f"{salt}${hashlib.sha256((salt + PASSWORD).encode()).hexdigest()}", "sha256_salted"))
    for _ in range(3):
        pool.append((bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode(), "bcrypt"))
    for _ in range(2):
        pool.append((passwords.hash_password(PASSWORD), "argon2id"))
    return pool


class Generator:
    def __init__(self, seed: int, province: str) -> None:
        self.random = random.Random(seed)
        self.communes = [code for code, _, p in units.all_communes() if p == province]
        if not self.communes:
            raise SystemExit(f"no communes for province {province}")
        self.hashes = hash_pool()

    def person(self) -> tuple[str, date, str]:
        r = self.random
        gender = r.choice(("male", "female"))
        middle, given = (MIDDLE_MALE, GIVEN_MALE) if gender == "male" else (MIDDLE_FEMALE, GIVEN_FEMALE)
        name = f"{r.choice(SURNAMES)} {r.choice(middle)} {r.choice(given)}"
        born = date(1940, 1, 1) + timedelta(days=r.randrange(365 * 66))
        return name, born, gender

    @staticmethod
    def cccd(n: int, born: date, gender: str, province: int) -> str:
        century = (born.year // 100 - 19) * 2 + (gender == "female")
        return f"{province:03d}{century}{born.year % 100:02d}{n % 1_000_000:06d}"

    @staticmethod
    def cmnd(n: int) -> str:
        return f"{(n * 7919 + 12345) % 1_000_000_000:09d}"

    def rows(self, count: int, changed_every: int = 0, new_from: int = 0) -> Iterator[dict[str, str]]:
        r = self.random
        n = 0
        while n < count:
            roll = r.randrange(100)
            for item in self.account(n, roll):
                if changed_every and n % changed_every == 0:
                    item["phone"] = f"09{n % 100_000_000:08d}"
                if new_from and n >= new_from:
                    item["legacy_id"] = f"{item['legacy_id']}-new"
                yield item
                n += 1
                if n >= count:
                    return

    def account(self, n: int, roll: int) -> list[dict[str, str]]:
        r = self.random
        base = {
            "source_system": SYSTEMS[n % len(SYSTEMS)],
            "legacy_id": f"{n:08d}",
            "unit_code": r.choice(self.communes),
            "created_at": (date(2015, 1, 1) + timedelta(days=r.randrange(3300))).isoformat(),
            "email": "",
            "phone": f"09{r.randrange(10**8):08d}" if r.random() < 0.6 else "",
        }
        base["password_hash"], base["hash_scheme"] = r.choice(self.hashes)
        if roll < 5:
            tax = f"{r.randrange(10**9, 10**10)}" + (f"-{r.randrange(1, 20):03d}" if r.random() < 0.3 else "")
            return [
                {
                    **base,
                    "username": tax if roll < 4 else f"dn{n}",
                    "account_type": "organisation",
                    "org_name": f"Công ty TNHH {r.choice(COMPANIES)} {n}",
                    "tax_code": tax if roll < 4 else "",
                }
            ]
        if roll < 7:
            return [
                {
                    **base,
                    "username": f"foreign{n}@example.com",
                    "account_type": "foreigner",
                    "full_name": r.choice(FOREIGN),
                }
            ]
        name, born, gender = self.person()
        citizen = {
            **base,
            "account_type": "citizen",
            "full_name": name,
            "birth_date": born.isoformat(),
            "gender": gender,
        }
        province = r.randrange(1, 97)
        number = self.cccd(n, born, gender, province)
        if roll < 59:
            return [{**citizen, "username": number, "cccd": number}]
        if roll < 78:
            cmnd = self.cmnd(n)
            return [{**citizen, "username": cmnd, "cmnd": cmnd}]
        if roll < 86:
            return [{**citizen, "username": f"user{n}"}]
        if roll < 89:
            bad = r.choice(
                (
                    f"000{number[3:]}",
                    f"{r.randrange(97, 1000):03d}{number[3:]}",
                    number[:11],
                    number[:10],
                    f"{number[:3]}9{number[4:]}",
                )
            )
            return [{**citizen, "username": f"user{n}", "cccd": bad}]
        if roll < 92:
            wrong = (
                born.replace(year=born.year - 1)
                if born.month != 2 or born.day != 29
                else born - timedelta(days=400)
            )
            return [{**citizen, "username": number, "cccd": number, "birth_date": wrong.isoformat()}]
        if roll < 98:  # Case 3: an old CMND account and a newer CCCD account of one person
            cmnd = self.cmnd(n)
            return [
                {**citizen, "username": cmnd, "cmnd": cmnd},
                {**citizen, "legacy_id": f"{n:08d}-b", "source_system": "mc-huyen", "username": number, "cccd": number,
                 "full_name": name.upper() if r.random() < 0.5 else name},
            ]  # fmt: skip
        return [  # one CCCD in two old systems
            {**citizen, "username": number, "cccd": number},
            {**citizen, "legacy_id": f"{n:08d}-c", "source_system": "tthc-so", "username": f"{number}@tthc"[:40], "cccd": number},
        ]  # fmt: skip


def write(
    path: Path, count: int, *, jsonl: bool, seed: int, province: str, changed_every: int, new_from: int
) -> None:
    generator = Generator(seed, province)
    with path.open("w", encoding="utf-8", newline="") as stream:
        if jsonl:
            for item in generator.rows(count, changed_every, new_from):
                stream.write(json.dumps(item, ensure_ascii=False) + "\n")
            return
        writer = csv.DictWriter(stream, fieldnames=list(HEADER), lineterminator="\n", restval="")
        writer.writeheader()
        writer.writerows(generator.rows(count, changed_every, new_from))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--jsonl", action="store_true")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--province", default="40")
    parser.add_argument("--changed-every", type=int, default=0)
    parser.add_argument("--new-from", type=int, default=0)
    args = parser.parse_args(argv)
    write(
        args.out,
        args.rows,
        jsonl=args.jsonl,
        seed=args.seed,
        province=args.province,
        changed_every=args.changed_every,
        new_from=args.new_from,
    )
    print(f"wrote {args.rows} rows to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
