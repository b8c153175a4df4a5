"""Builds ``broker/data/units_2024.json.gz``: Vietnam's administrative units as legacy exports code them
(2024: province, district, commune), from the ``vietnam-provinces`` package's release 0.6.0 (MIT), the last
release that still carries the three-level list. The units in force since 1/7/2025 come from the package's
current release at run time, so only the retired list is shipped.

Run: ``pip download --no-deps vietnam-provinces==0.6.0`` and unzip it, then
``python seed/make_units_2024.py path/to/vietnam_provinces/data/nested-divisions.json``.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "broker" / "data" / "units_2024.json.gz"


def main(source: str) -> None:
    provinces = json.loads(Path(source).read_text(encoding="utf-8"))
    data: dict[str, dict[str, list[str]]] = {"provinces": {}, "districts": {}, "communes": {}}
    for province in provinces:
        p = f"{province['code']:02d}"
        data["provinces"][p] = [province["name"]]
        for district in province["districts"]:
            d = f"{district['code']:03d}"
            data["districts"][d] = [district["name"], p]
            for commune in district["wards"]:
                data["communes"][f"{commune['code']:05d}"] = [commune["name"], d]
    OUT.write_bytes(gzip.compress(json.dumps(data, ensure_ascii=False, sort_keys=True).encode(), mtime=0))


if __name__ == "__main__":
    main(sys.argv[1])
