"""Reports over the demo set plus a generated year of outcomes (>= 100k matches) on PostgreSQL.

    .venv/bin/python -m bench.reports_bench [--database-url URL] [--matches 100000] [--repeat 5]

The database is emptied and rebuilt (migrations, reference data, the demo seed with its history), then a
year of ended matches with outcomes, commitments and ratings is generated in SQL. Each report is timed
(median of --repeat runs) for an admin (nationwide) and a provincial coordinator, next to a floor timed
between the report's runs (so both see the same load on a shared machine): one COUNT over the outcome
rows of the range, the least any report reads. The load average is printed at the start and the end.
Then the XLSX export's peak Python memory is measured for 10k and 100k rows (write-only mode: the ratio
should stay near 1).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import tracemalloc
from datetime import date, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.access import Caller, Role
from app.db import make_engine
from app.migrations import upgrade
from app.models import Match, MatchOutcome
from app.reference import load_reference_data
from app.reports import exports
from app.reports.common import Report, ReportParams
from app.reports.service import CATALOGUE, run_report
from app.seed.demo import seed_demo

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/jd_impact_bench"

GENERATE = """
INSERT INTO matches (newcomer_id, mentor_id, newcomer_county_code, mentor_county_code, status, score,
    score_parts, rank, reasons, suggested_commitments, mentor_accepted, newcomer_accepted, reason_code,
    version, created_at, updated_at)
SELECT n.id, m.id, n.county_code, m.county_code,
       CASE WHEN g % 5 = 0 THEN 'cancelled' ELSE 'completed' END, 0.5,
       '{}'::jsonb, 1, '{}'::jsonb, '[]'::jsonb, true, true, 'bench', 1, now(), now()
FROM generate_series(1::bigint, :n) AS g
JOIN newcomers n ON n.id = (SELECT min(id) FROM newcomers) + (g * 7919) % (SELECT count(*) FROM newcomers)
JOIN mentors m ON m.id = (SELECT min(id) FROM mentors) + (g * 104729) % (SELECT count(*) FROM mentors)
"""
OUTCOMES = """
INSERT INTO match_outcomes (match_id, activated_on, newcomer_id, mentor_id, newcomer_county_code,
    mentor_county_code, ended_as, pairing_type, baseline_has_store, baseline_channels,
    baseline_orders_per_month, days_to_first_sale, first_sale_on, latest_orders_per_month, orders_growth,
    updated_at)
SELECT id, d, newcomer_id, mentor_id, newcomer_county_code, mentor_county_code, status,
       (ARRAY['same_trade','chain','other'])[1 + id % 3], false, '[]'::jsonb, id % 4,
       s, CASE WHEN s IS NULL THEN NULL ELSE d + s END,
       CASE WHEN id % 2 = 0 THEN id % 4 + id % 37 END, CASE WHEN id % 2 = 0 THEN id % 37 END, now()
FROM (
    SELECT id, newcomer_id, mentor_id, newcomer_county_code, mentor_county_code, status,
           current_date - (id % 365) AS d, CASE WHEN id % 10 < 6 THEN 3 + (id * 31) % 140 END AS s
    FROM matches WHERE reason_code = 'bench'
) AS x
"""
COMMITMENTS = """
INSERT INTO commitments (match_id, resource_type, area, description, cadence_days, done_count,
    partial_count, missed_count, created_at)
SELECT id, 'technology', 'marketing_innovation', 'bench', 14, id % 9, id % 3, id % 4, now()
FROM matches WHERE reason_code = 'bench'
"""
RATINGS = """
INSERT INTO match_ratings (match_id, mentor_id, party, author_id, score, reason_code, comment, created_at)
SELECT id, mentor_id, 'newcomer', (SELECT min(id) FROM accounts), 1 + id % 5, 'other', '', now()
FROM matches WHERE reason_code = 'bench' AND id % 2 = 0
"""


def build(url: str, n: int, *, reuse_demo: bool) -> None:
    """Empty the database and load the demo set with its history plus n generated ended matches."""
    engine = make_engine(url)
    if not reuse_demo:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    upgrade(url)
    with Session(engine) as s:
        if reuse_demo:
            # Outcomes, commitments and ratings go with their matches (ON DELETE CASCADE).
            s.execute(text("DELETE FROM matches WHERE reason_code = 'bench'"))
        else:
            load_reference_data(s)
            s.commit()
            t = time.perf_counter()
            print("demo seed:", seed_demo(s, history=True), f"{time.perf_counter() - t:.0f} s", flush=True)
        s.commit()
        for sql in (GENERATE, OUTCOMES, COMMITMENTS, RATINGS):
            s.execute(text(sql), {"n": n})
        s.commit()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # What autovacuum does on a live database after a bulk load: statistics, and the visibility map
        # that lets index-only scans skip the table.
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def timed(fn, repeat: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    """Median wall time in ms of repeat calls, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), result


def xlsx_peak(rows: int) -> int:
    """Peak traced Python memory (bytes) while exporting a report of `rows` rows as XLSX."""
    params = ReportParams("", date(2026, 1, 1), date(2026, 12, 31))
    report = Report(
        "bench",
        ("基准", "bench"),
        params,
        ["key", "name", "region_code", "matches", "share"],
        ((i, f"导师{i}", "321322", i % 50, (i % 7) / 7) for i in range(rows)),  # a generator: rows stream
        [("定义", "definition")],
    )
    tracemalloc.start()
    f = exports.spooled(report, "xlsx")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    f.close()
    return peak


def main() -> None:
    """Build, time every report and grouping for two callers, measure XLSX memory; print a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--matches", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-build", action="store_true", help="reuse the database of a previous run")
    parser.add_argument("--reuse-demo", action="store_true", help="keep the seeded demo, regenerate the year")
    args = parser.parse_args()
    if not args.skip_build:
        build(args.database_url, args.matches, reuse_demo=args.reuse_demo)
    engine = make_engine(args.database_url)
    today = date.today()
    start = today - timedelta(days=364)
    callers = {
        "admin (nationwide)": Caller(1, Role.ADMIN, None, "admin"),
        "coordinator 53 (Yunnan)": Caller(2, Role.COORDINATOR, "53", "coord"),
    }
    print("load average (1, 5, 15 min) at the start: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    with Session(engine) as s:
        total = s.scalar(select(func.count()).select_from(Match))
        in_range = s.scalar(
            select(func.count()).select_from(MatchOutcome).where(MatchOutcome.activated_on >= start)
        )
        print(f"matches: {total}, activated in the last 365 days: {in_range}")

        def floor() -> int | None:
            # The least any report does: read the activated matches of the range once.
            return s.scalar(
                select(func.count())
                .select_from(MatchOutcome)
                .where(MatchOutcome.activated_on.between(start, today))
            )

        def join_peer() -> int | None:
            # What every report paid before the outcome rows carried their match's parties (0010).
            return s.scalar(
                select(func.count())
                .select_from(Match)
                .join(MatchOutcome, MatchOutcome.match_id == Match.id)
                .where(MatchOutcome.activated_on.between(start, today))
            )

        print(
            f"floor (COUNT over match_outcomes in the range): {timed(floor, args.repeat)[0]:.1f} ms; "
            f"the same COUNT joined to matches: {timed(join_peer, args.repeat)[0]:.1f} ms\n"
        )
        print("| report | grouping | caller | median ms | floor ms (same window) | × floor | rows |")
        print("| --- | --- | --- | ---: | ---: | ---: | ---: |")
        worst = 0.0
        for name, spec in CATALOGUE.items():
            for by in spec.groupings or (None,):
                for label, caller in callers.items():
                    # The floor is timed between the report's runs, so both see the same machine load.
                    report_ms, floor_ms, report = [], [], None
                    for _ in range(args.repeat):
                        floor_ms.append(timed(floor, 1)[0])
                        ms, report = timed(
                            lambda n=name, b=by, c=caller: run_report(
                                s, caller=c, name=n, region=None, date_from=start, date_to=today, by=b
                            ),
                            1,
                        )
                        report_ms.append(ms)
                    ms, f_ms = statistics.median(report_ms), statistics.median(floor_ms)
                    worst = max(worst, ms)
                    rows = len(report.rows)  # type: ignore[attr-defined]
                    ratio = ms / f_ms
                    print(
                        f"| {name} | {by or '-'} | {label} | {ms:.1f} | {f_ms:.1f} | {ratio:.1f} | {rows} |"
                    )
        print(f"\nslowest report: {worst:.1f} ms (target < 1000 ms)")
    print("load average (1, 5, 15 min) at the end: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    small, large = xlsx_peak(10_000), xlsx_peak(100_000)
    print(
        f"XLSX export peak Python memory: 10k rows {small / 1024:.0f} KiB, 100k rows {large / 1024:.0f} KiB, "
        f"ratio {large / small:.2f} for 10x the rows"
    )


if __name__ == "__main__":
    main()
