"""Roster import throughput and memory: the project's import against a naive ORM loop and a COPY floor.

    .venv/bin/python -m bench.import_bench [--rows 100000] [--database-url URL] [--skip-naive] [--rounds N]

Generates a messy 100k-row roster (GBK CSV and XLSX; real township codes from the regions table) and
measures, each variant in its own subprocess so peak RSS (ru_maxrss) is per variant:
  (a) the project's import: validation pass + chunked apply, run_import(), the code the job runs;
  (b) naive ORM: the same reader and validator, then per row a SELECT by key and one Mentor ORM object
      (+ MentorProduct objects) with session.add, commit every 1,000 rows (autoflush on each query, so
      every row is its own INSERT round trip, as typical hand-written upsert loops do);
  (c) PostgreSQL COPY of the already-validated rows into mentors + mentor_products (the floor; parsing
      excluded; only with a PostgreSQL --database-url).
Without --database-url a temporary SQLite file is used (a and b only). On PostgreSQL a private schema
is created and dropped. Each line shows wall time, the variant process's CPU time and the CPU time of
its PostgreSQL backends (read from /proc: the server must run on the same machine, else 0); with
--rounds N the variants run N times interleaved and the medians are reported too.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import openpyxl
from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.orm import Session

from app.db import make_engine, make_sessionmaker, utcnow
from app.models import Account, Mentor, MentorProduct, Region

HEADER = [
    "外部编号", "名称", "类型", "联系人", "手机号", "行政区划代码", "主营产品", "销售渠道", "从业年限",
    "年销售额（万元）", "员工人数", "可分享资源", "可带徒人数", "荣誉", "备注",
]  # fmt: skip
_PRODUCTS = [
    "苹果",
    "梨",
    "茶叶",
    "花木",
    "盆景",
    "大米",
    "蜂蜜",
    "猕猴桃",
    "红薯",
    "木耳",
    "核桃",
    "鸡蛋",
    "绿茶",
]
_KINDS = ["农户", "个体户", "合作社", "专业合作社", "有限公司", "家庭农场"]
_CHANNELS = ["淘宝", "拼多多", "京东", "抖音", "快手", "微信", "天猫"]
_RESOURCES = ["信息", "技术", "人力", "物流", "technology", "logistics"]
_SEPS = ["、", "，", ",", "/", " ", "；"]


def _phone(rng: random.Random, n: int) -> str:
    digits = f"13{rng.randint(5, 9)}{n:08d}"
    style = n % 5
    if style == 0:
        return f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}"
    if style == 1:
        return digits.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    if style == 2:
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    return digits


def generate_rows(n_rows: int, townships: list[str], seed: int = 4) -> list[list[str]]:
    """Realistic messy rows; about 1% are invalid (bad phone or kind), as real rosters are."""
    rng = random.Random(seed)
    rows = []
    for n in range(n_rows):
        sep = rng.choice(_SEPS)
        row = [
            f" E{n:07d} ",
            f"示范户{n}号" + rng.choice(["", "合作社", "家庭农场", "电商"]),
            rng.choice(_KINDS),
            rng.choice(["王", "李", "张", "刘", "陈"]) + rng.choice(["经理", "大姐", "师傅", ""]),
            _phone(rng, n),
            rng.choice(townships),
            sep.join(rng.sample(_PRODUCTS, rng.randint(1, 3))),
            sep.join(rng.sample(_CHANNELS, rng.randint(0, 3))),
            rng.choice(["3年", "5", "10年以上", "", "2.5年"]),
            rng.choice(["约50", "50-100", "10-50万", "", "1000以上", "30"]),
            rng.choice(["12人", "3", "", "约20"]),
            sep.join(rng.sample(_RESOURCES[:4], rng.randint(1, 3))),
            rng.choice(["", "3", "5人", "10"]),
            rng.choice(["", "电商示范户", "淘宝村带头人、县级示范户"]),
            rng.choice(["", "从一个大棚做到全镇联营", "主要做直播带货"]),
        ]
        if n % 97 == 13:
            row[4] = "1380013800"  # rejected: one digit short
        rows.append(row)
    return rows


def write_files(rows: list[list[str]], folder: Path) -> dict[str, Path]:
    """The same rows as a GBK CSV and as an XLSX."""
    buffer = io.StringIO(newline="")
    import csv

    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    csv_path = folder / "roster-gbk.csv"
    csv_path.write_bytes(buffer.getvalue().encode("gb18030"))
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("名单")
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    xlsx_path = folder / "roster.xlsx"
    book.save(xlsx_path)
    return {"csv": csv_path, "xlsx": xlsx_path}


# ---------------------------------------------------------------- variants (run in a subprocess)


def _clean(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        for table in ("import_row_issues", "import_row_results", "roster_files", "roster_imports", "jobs"):
            conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed table names
        conn.execute(text("DELETE FROM mentor_products"))
        conn.execute(text("DELETE FROM mentors"))
    engine.dispose()


def variant_project(url: str, path: Path) -> dict[str, Any]:
    """(a) the import exactly as the job runs it."""
    from app.imports import apply, service
    from app.imports.apply import ImportLimits, run_import

    sessions = make_sessionmaker(make_engine(url))
    data = path.read_bytes()
    spent = [0.0]
    commit_chunk = apply._commit_chunk

    def timed(*args: Any, **kwargs: Any) -> int:
        began = time.perf_counter()
        try:
            return commit_chunk(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - began

    apply._commit_chunk = timed  # type: ignore[assignment] # the write phase, for comparison with (b)
    start = time.perf_counter()
    with sessions.begin() as session:
        admin = session.scalar(select(Account.id).where(Account.username == "bench"))
        imp = service.create_import(
            session, created_by=admin, township=None, data=data, filename=path.name, content_type=None,
            sheet=None, dry_run=False, on_error="skip_row",
        )  # fmt: skip
        import_id = imp.id
    status = run_import(sessions, import_id, limits=ImportLimits(chunk_rows=1_000, max_rows=200_000))
    elapsed = time.perf_counter() - start
    with sessions() as session:
        from app.models import RosterImport

        done = session.get(RosterImport, import_id)
        assert done is not None
        counts = {"created": done.created_count, "rejected": done.rejected_count, "status": status}
    return {"seconds": elapsed, "write_seconds": spent[0], **counts}


def _validated(path: Path, sessions: Any) -> list[Any]:
    from app.imports.read.reading import open_roster
    from app.imports.validate.resolve import RegionResolver
    from app.imports.validate.stream import validated_stream

    with open_roster(path) as reader:
        yield from validated_stream(reader, RegionResolver(sessions), None, {})


def variant_naive(url: str, path: Path) -> dict[str, Any]:
    """(b) per-row ORM upsert: SELECT by key, one Mentor object, session.add; commit every 1,000."""
    from app.imports.write.upsert import import_hash, mentor_values

    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    start = time.perf_counter()
    created = rejected = 0
    spent = 0.0
    session = Session(engine, autoflush=True)
    for i, (_raw, validated, region) in enumerate(_validated(path, sessions), start=1):
        row = validated.row
        if row is None or region is None:
            rejected += 1
            continue
        began = time.perf_counter()
        values = mentor_values(row, region_code=region, source_township=row.township_code)
        existing = session.scalar(
            select(Mentor).where(
                Mentor.source_township == row.township_code, Mentor.external_id == row.external_id
            )
        )
        if existing is None:
            mentor = Mentor(**values, import_hash=import_hash(values, row.products), languages=["mandarin"])
            mentor.products = [MentorProduct(category_code=c, position=p) for p, c in enumerate(row.products)]
            session.add(mentor)
            created += 1
        if i % 1_000 == 0:
            session.commit()
        spent += time.perf_counter() - began
    began = time.perf_counter()
    session.commit()
    session.close()
    spent += time.perf_counter() - began
    elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "write_seconds": spent, "created": created, "rejected": rejected}


def variant_copy(url: str, path: Path) -> dict[str, Any]:
    """(c) COPY of already-clean rows (validated before the clock starts) into both tables."""
    from app.imports.write.upsert import import_hash, mentor_values

    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    mentors: list[tuple[Any, ...]] = []
    products: list[tuple[Any, ...]] = []
    columns: list[str] = []
    now = utcnow()
    for _raw, validated, region in _validated(path, sessions):
        row = validated.row
        if row is None or region is None:
            continue
        values = mentor_values(row, region_code=region, source_township=row.township_code)
        values |= {
            "import_hash": import_hash(values, row.products),
            "languages": ["mandarin"],
            "is_active": True,
        }
        values |= {"capacity_used": 0, "version": 1, "created_at": now, "updated_at": now}
        values["id"] = len(mentors) + 1
        columns = list(values)
        mentors.append(
            tuple(json.dumps(v, ensure_ascii=False) if isinstance(v, list) else v for v in values.values())
        )
        products += [(values["id"], c, p) for p, c in enumerate(row.products)]
    _CPU_CLOCK.start()  # the floor's CPU, like its time, excludes the parsing above
    start = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        with cursor.copy(f"COPY mentors ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for record in mentors:
                copy.write_row(record)
        with cursor.copy("COPY mentor_products (mentor_id, category_code, position) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for record in products:
                copy.write_row(record)
        raw.commit()
    finally:
        raw.close()
    elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "write_seconds": elapsed, "created": len(mentors)}


VARIANTS = {"project": variant_project, "naive": variant_naive, "copy": variant_copy}


def _child(variant: str, url: str, path: str) -> None:
    # The app's imports alone (SQLAlchemy, NumPy/SciPy/scikit-learn via `matching`) set a floor.
    from app.imports import apply  # noqa: F401
    from app.imports.write import upsert  # noqa: F401

    # Linux keeps ru_maxrss across fork+exec, so a child inherits the driver's peak; reset the
    # high-water mark instead (VmHWM) and read it at the end. The app's imports alone (SQLAlchemy,
    # NumPy/SciPy/scikit-learn via `matching`) are resident before the variant starts.
    baseline = _status_mb("VmRSS") or 0.0
    resettable = _reset_peak()
    _CPU_CLOCK.start()
    result = VARIANTS[variant](url, Path(path))
    result["cpu_seconds"], result["server_cpu_seconds"] = _CPU_CLOCK.read()
    result["baseline_rss_mb"] = baseline
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["variant_peak_mb"] = _status_mb("VmHWM") if resettable else None
    print(json.dumps(result))


class _CpuClock:
    """CPU seconds of this process and of the PostgreSQL backends it opened (the server is local)."""

    def __init__(self) -> None:
        self._listening = False
        self._client = 0.0
        self._server: dict[int, float] = {}  # backend pid -> its CPU seconds at start()

    def start(self) -> None:
        """Count from now; the first call also starts noting the backend of each new connection."""
        if not self._listening:
            event.listen(Engine, "connect", self._note)
            self._listening = True
        self._client = _own_cpu_seconds()
        self._server = {pid: _backend_cpu_seconds(pid) for pid in self._server}

    def read(self) -> tuple[float, float]:
        """(client, server) CPU seconds since start(); a backend that already exited counts 0."""
        server = 0.0
        for pid, began in self._server.items():
            now = _backend_cpu_seconds(pid)
            server += max(0.0, now - began) if now else 0.0
        return _own_cpu_seconds() - self._client, server

    def _note(self, dbapi_connection: Any, _record: Any) -> None:
        info = getattr(dbapi_connection, "info", None)
        if info is not None and hasattr(info, "backend_pid"):
            self._server[info.backend_pid] = 0.0  # opened after start(): all its CPU counts


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


_CPU_CLOCK = _CpuClock()


def _backend_cpu_seconds(pid: int) -> float:
    """User + system CPU of a server process so far (0 when it is gone or not on this machine)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _status_mb(field: str) -> float | None:
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return None
    return next((int(line.split()[1]) / 1024 for line in lines if line.startswith(f"{field}:")), None)


# ---------------------------------------------------------------- driver


def prepare(url: str) -> list[str]:
    """Migrate, load regions with townships, add the bench account; return sample township codes."""
    # Imported here: the region source data is large, and the measured children never need it.
    from app.migrations import upgrade
    from app.reference import load_reference_data

    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        load_reference_data(session, include_townships=True)
        session.add(Account(username="bench", password_hash="x", role="admin", display_name="bench"))  # noqa: S106
        session.commit()
        codes = list(
            session.scalars(select(Region.code).where(Region.level == "township").order_by(Region.code))
        )
    engine.dispose()
    return codes[:: max(1, len(codes) // 500)]


def run_variant(variant: str, url: str, path: Path) -> dict[str, Any]:
    """One variant in a fresh interpreter, against an emptied mentors table."""
    _clean(url)
    env = {
        **os.environ,
        "JIEDUAN_SECRET_KEY": "bench-secret-key-0123456789abcdef",
        "JIEDUAN_LOG_LEVEL": "WARNING",
    }
    out = subprocess.run(
        [sys.executable, "-m", "bench.import_bench", "--child", variant, url, str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{variant} failed:\n{out.stderr}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _medians(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per variant, the median of each timing over the rounds and the highest peak RSS."""
    merged: dict[str, dict[str, Any]] = {}
    for name, first in rounds[0].items():
        merged[name] = dict(first)
        for key in ("seconds", "write_seconds", "cpu_seconds", "server_cpu_seconds"):
            merged[name][key] = statistics.median(r[name][key] for r in rounds)
        merged[name]["variant_peak_mb"] = max(r[name].get("variant_peak_mb") or 0 for r in rounds)
    return merged


def _report(results: dict[str, dict[str, Any]], rows: int) -> None:
    """One line per variant, then the ratios the targets are about."""
    for name, r in results.items():
        rate = rows / r["seconds"]
        print(
            f"  {name:12s} {r['seconds']:8.2f} s {rate:8.0f} rows/s  writes {r['write_seconds']:7.2f} s  "
            f"CPU {r['cpu_seconds']:6.2f} s + server {r['server_cpu_seconds']:6.2f} s  "
            f"peak RSS {r.get('variant_peak_mb') or 0:4.0f} MB "
            f"(app imports alone {r['baseline_rss_mb']:4.0f} MB)  "
            f"created {r.get('created')} rejected {r.get('rejected', '-')}"
        )
    a = results["a csv"]["seconds"]
    aw = results["a csv"]["write_seconds"]
    if "b naive csv" in results:
        b = results["b naive csv"]
        print(
            f"  speed-up of (a) over naive ORM (b): end to end {b['seconds'] / a:.1f}x, "
            f"write phase {b['write_seconds'] / aw:.1f}x (target >= 5x)"
        )
    x = results["a xlsx"]["seconds"]
    print(f"  (a) XLSX relative to (a) CSV of the same rows: {x / a:.2f}x (target <= 2x)")
    if "c copy" in results:
        c = results["c copy"]["seconds"]
        cpu = {k: v["cpu_seconds"] + v["server_cpu_seconds"] for k, v in results.items()}
        print(
            f"  (a) CSV relative to the COPY floor (c): end to end {a / c:.2f}x (target <= 2x), "
            f"write phase {aw / c:.2f}x; CPU (client + server) {cpu['a csv'] / cpu['c copy']:.2f}x"
        )
    for name in ("a csv", "a xlsx"):
        peak = results[name].get("variant_peak_mb") or 0
        verdict = "met" if peak < 300 else "MISS"
        print(f"  peak RSS of ({name}): {peak:.0f} MB (target < 300 MB: {verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", help="PostgreSQL URL (a private schema is used); default SQLite")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved repetitions (medians reported)")
    parser.add_argument("--child", nargs=3, metavar=("VARIANT", "URL", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        schema = None
        if args.database_url:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(args.database_url)
            with admin.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA {schema}"))
            sep = "&" if "?" in args.database_url else "?"
            url = f"{args.database_url}{sep}options=-csearch_path%3D{schema}"
        else:
            url = f"sqlite:///{folder / 'bench.db'}"
        try:
            townships = prepare(url)
            files = write_files(generate_rows(args.rows, townships), folder)
            dialect = "postgresql" if schema else "sqlite"
            print(f"{args.rows} rows, {dialect}; csv {files['csv'].stat().st_size / 1e6:.1f} MB, "
                  f"xlsx {files['xlsx'].stat().st_size / 1e6:.1f} MB")  # fmt: skip
            plan = [("a csv", "project", "csv"), ("a xlsx", "project", "xlsx")]
            if not args.skip_naive:
                plan.append(("b naive csv", "naive", "csv"))
            if schema:
                plan.append(("c copy", "copy", "csv"))
            rounds: list[dict[str, dict[str, Any]]] = []
            for n in range(args.rounds):
                # Interleaved: each round runs every variant once, so load drift hits them alike.
                results = {name: run_variant(variant, url, files[kind]) for name, variant, kind in plan}
                print(f"round {n + 1} of {args.rounds} (load average {os.getloadavg()[0]:.1f}):")
                _report(results, args.rows)
                rounds.append(results)
            if len(rounds) > 1:
                print(f"median of {len(rounds)} rounds (peak RSS: the highest):")
                _report(_medians(rounds), args.rows)
        finally:
            if schema:
                with admin.begin() as conn:
                    conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
                admin.dispose()


if __name__ == "__main__":
    main()
