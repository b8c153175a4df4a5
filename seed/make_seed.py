"""Writes seed/legacy_accounts.csv: the demo legacy accounts that `make run` imports.

Run from the repository root: `.venv/bin/python seed/make_seed.py`. Every password is `Matkhau@123`,
hashed with the four schemes the import accepts, as the old systems did. bcrypt and Argon2id salts are
random, so each run writes new hashes for the same passwords (a re-import then replaces them).
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import bcrypt
from argon2 import PasswordHasher

PASSWORD = "Matkhau@123"
TARGET = Path(__file__).resolve().parent / "legacy_accounts.csv"
HEADER = (
    "source_system,legacy_id,username,account_type,full_name,birth_date,gender,cmnd,cccd,org_name,"
    "tax_code,email,phone,unit_code,password_hash,hash_scheme,created_at"
).split(",")


def hashed(scheme: str, salt: str = "") -> dict[str, str]:
    if scheme == "md5":
        encoded = hashlib.md5(PASSWORD.encode(), usedforsecurity=False).hexdigest()
    elif scheme == "sha256_salted":
        encoded = f"{salt}${hashlib.sha256((salt + PASSWORD).encode()).hexdigest()}"
    elif scheme == "bcrypt":
        encoded = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10)).decode()
    else:
        encoded = PasswordHasher().hash(PASSWORD)
    return {"password_hash": encoded, "hash_scheme": scheme}


# Communes of Yên Thành district, Nghệ An (codes in the style of the national list; illustrative).
DVC, MOTCUA = "dvc-tinh", "motcua-huyen"
ROWS: list[dict[str, str]] = [
    # Case 2 via CMND: the citizen logs in with VNeID 001085012345 and lands in this account.
    {"source_system": DVC, "legacy_id": "DVC-000101", "username": "012345678", "account_type": "citizen",
     "full_name": "Nguyễn Văn An", "birth_date": "1985-03-12", "gender": "male", "cmnd": "012345678",
     "email": "an.nguyen@example.com", "phone": "0912345678", "unit_code": "17380",
     **hashed("md5"), "created_at": "2018-04-02"},
    # Case 2 via CCCD.
    {"source_system": DVC, "legacy_id": "DVC-000102", "username": "038303004567", "account_type": "citizen",
     "full_name": "Lê Minh Châu", "birth_date": "2003-11-02", "gender": "female", "cccd": "038303004567",
     "unit_code": "17383", **hashed("bcrypt"), "created_at": "2022-09-15T08:30:00"},
    # Case 2 with a disagreement: the old system lost the tilde of "Dũng", so the link is flagged for review.
    {"source_system": DVC, "legacy_id": "DVC-000103", "username": "031234567", "account_type": "citizen",
     "full_name": "Hoàng Văn Dung", "birth_date": "1975-01-18", "gender": "male", "cmnd": "031234567",
     "phone": "0904111222", "unit_code": "17386", **hashed("sha256_salted", "q7Zk2"),
     "created_at": "2017-11-20T14:05:00+07:00"},
    # Case 3, self-merge: one account on the CMND (provincial portal), one on the CCCD (district desk).
    {"source_system": DVC, "legacy_id": "DVC-000104", "username": "023456789", "account_type": "citizen",
     "full_name": "Trần Thị Bình", "birth_date": "1990-07-25", "gender": "female", "cmnd": "023456789",
     "phone": "0987654321", "unit_code": "17389", **hashed("md5"), "created_at": "2016-06-01"},
    {"source_system": MOTCUA, "legacy_id": "MC-2041", "username": "binh.tran@example.vn",
     "account_type": "citizen", "full_name": "Trần Thị Bình", "birth_date": "1990-07-25", "gender": "female",
     "cccd": "001190023456", "email": "binh.tran@example.vn", "unit_code": "17389",
     **hashed("argon2id"), "created_at": "2023-02-10T09:12:00"},
    # Case 3 for the officer: two accounts of Phạm Thị Hồng Nhung, the second with day and month swapped.
    {"source_system": DVC, "legacy_id": "DVC-000105", "username": "025678901", "account_type": "citizen",
     "full_name": "Phạm Thị Hồng Nhung", "birth_date": "1988-09-30", "gender": "female",
     "cmnd": "025678901", "email": "nhung.pham@example.com", "unit_code": "17392",
     **hashed("sha256_salted", "Xm41p"), "created_at": "2019-03-08"},
    {"source_system": MOTCUA, "legacy_id": "MC-2042", "username": "079188001122", "account_type": "citizen",
     "full_name": "Phạm Thị Hồng Nhung", "birth_date": "1988-03-09", "gender": "female",
     "cccd": "079188001122", "phone": "0903123456", "unit_code": "17392", **hashed("bcrypt"),
     "created_at": "2022-12-01T16:45:00"},
    # Not cleaned: citizen accounts without any identification number (counted by the clean-up report).
    {"source_system": DVC, "legacy_id": "DVC-000106", "username": "mai.vo", "account_type": "citizen",
     "full_name": "Võ Thị Mai", "birth_date": "1992-04-08", "gender": "female",
     "email": "mai.vo@example.com", "unit_code": "17395", **hashed("argon2id"), "created_at": "2020-08-19"},
    {"source_system": DVC, "legacy_id": "DVC-000107", "username": "longtv1970", "account_type": "citizen",
     "full_name": "Trần Văn Long", "birth_date": "1970-02-14", "gender": "male", "phone": "0978111333",
     "unit_code": "17380", **hashed("md5"), "created_at": "2015-10-05"},
    {"source_system": MOTCUA, "legacy_id": "MC-2043", "username": "hoa.nguyen@example.vn",
     "account_type": "citizen", "full_name": "Nguyễn Thị Hoa", "email": "hoa.nguyen@example.vn",
     "unit_code": "17383", **hashed("sha256_salted", "b8Wn0"), "created_at": "2021-01-22T07:50:00"},
    # Organisations and enterprises: username = tax code (Nghệ An codes start with 29).
    {"source_system": DVC, "legacy_id": "DVC-ORG-001", "username": "2901234567",
     "account_type": "organisation", "org_name": "Công ty TNHH Thương mại Dịch vụ Hoa Sen",
     "tax_code": "2901234567", "email": "ketoan@hoasen.example.vn", "phone": "02383123456",
     "unit_code": "17380", **hashed("bcrypt"), "created_at": "2019-07-01"},
    {"source_system": MOTCUA, "legacy_id": "MC-ORG-17", "username": "2900567891",
     "account_type": "organisation", "org_name": "Hợp tác xã Nông nghiệp Yên Thành",
     "tax_code": "2900567891", "phone": "02383987654", "unit_code": "17386", **hashed("md5"),
     "created_at": "2020-03-16T10:00:00"},
    # Foreigners: username = passport number.
    {"source_system": DVC, "legacy_id": "DVC-FRN-001", "username": "M12345678", "account_type": "foreigner",
     "full_name": "Kim Min-jun", "birth_date": "1987-06-01", "gender": "male",
     "email": "minjun.kim@example.kr", "unit_code": "17380", **hashed("argon2id"),
     "created_at": "2023-05-04T11:20:00"},
    {"source_system": DVC, "legacy_id": "DVC-FRN-002", "username": "TK1234567", "account_type": "foreigner",
     "full_name": "Sato Yuki", "birth_date": "1993-02-11", "gender": "female",
     "email": "yuki.sato@example.jp", "unit_code": "17395", **hashed("sha256_salted", "Jp9s3"),
     "created_at": "2024-01-09"},
]  # fmt: skip


def main() -> None:
    with TARGET.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=HEADER, lineterminator="\n")
        writer.writeheader()
        for row in ROWS:
            writer.writerow({name: row.get(name, "") for name in HEADER})
    print(f"wrote {len(ROWS)} rows to {TARGET}")


if __name__ == "__main__":
    main()
