"""Legacy CSV files for tests, in the contract's format (../shared/DESIGN.md), hashed as old systems did."""

from __future__ import annotations

import csv
import hashlib
import io
from typing import Any

HEADER = (
    "source_system,legacy_id,username,account_type,full_name,birth_date,gender,cmnd,cccd,org_name,"
    "tax_code,email,phone,unit_code,password_hash,hash_scheme,created_at"
).split(",")
LEGACY_PASSWORD = "Matkhau@123"


def md5(password: str = LEGACY_PASSWORD) -> dict[str, str]:
    return {"password_hash": hashlib.md5(password.encode()).hexdigest(), "hash_scheme": "md5"}


def salted_sha256(password: str = LEGACY_PASSWORD, salt: str = "s4lt") -> dict[str, str]:
    digest = hashlib.sha256((salt + password).encode()).hexdigest()
    return {"password_hash": f"{salt}${digest}", "hash_scheme": "sha256_salted"}


def row(legacy_id: str, username: str, account_type: str = "citizen", **fields: Any) -> dict[str, str]:
    values = {
        "source_system": "dvc-tinh",
        "legacy_id": legacy_id,
        "username": username,
        "account_type": account_type,
    }
    values.update(md5())
    values.update({key: str(value) for key, value in fields.items()})
    return values


def csv_text(*rows: dict[str, str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER)
    writer.writeheader()
    for item in rows:
        writer.writerow({name: item.get(name, "") for name in HEADER})
    return out.getvalue()
