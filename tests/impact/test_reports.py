"""Report definitions checked exactly on the hand-built world, and each report's jurisdiction scoping.

The world (tests/impact/conftest.py), range 2026-01-01..2026-06-30:
  mentors A (Shuyang, Jiangsu), B (Yunnan), C (another Shandong county D)
  Caoxian (Shandong): n1..n4 (tea), n6 (flowers); Yunnan: n5; county D: n7
  m1 A-n1 active     2026-01-10  first sale +30,  orders 0->20, chain,      periods 3/1/0
  m2 A-n2 completed  2026-02-01  first sale +100, orders 5->15, same_trade, periods 1/0/1
  m3 B-n3 cancelled  2026-03-01  no sale,                       other,      periods 0/0/2
  m4 A-n4 active     2026-07-15  (outside the range)
  m5 A-n5 active     2026-04-01  first sale +60,  orders 2->4,  chain
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time

import pytest
from openpyxl import load_workbook

from app.matches.adapter import outcome_pairs
from app.outcomes.labels import outcome_labels
from tests.conftest import JIANGSU, SHANDONG, YUNNAN
from tests.impact.conftest import RANGE, add_newcomer


@pytest.fixture
def users(make_user):
    return {
        "shandong": make_user("coordinator", SHANDONG),
        "yunnan": make_user("coordinator", YUNNAN),
        "jiangsu": make_user("coordinator", JIANGSU),
        "admin": make_user("admin"),
    }


def get(client, user, name: str, **params):
    r = client.get(f"/api/v1/reports/{name}", params={**RANGE, **params}, headers=user.headers)
    assert r.status_code == 200, r.text
    return r.json()


def by_key(body) -> dict:
    return {row["key"]: row for row in body["rows"]}


class TestReach:
    def test_by_county_in_shandong(self, client, world, users):
        body = get(client, users["shandong"], "reach", by="county")
        assert body["scope"] == SHANDONG and body["date_from"] == "2026-01-01"
        assert [
            {
                k: r[k]
                for k in (
                    "key",
                    "newcomers_reached",
                    "mentors",
                    "matches",
                    "active",
                    "completed",
                    "cancelled",
                )
            }
            for r in body["rows"]
        ] == [
            {
                "key": world.caoxian,
                "newcomers_reached": 3,
                "mentors": 2,
                "matches": 3,
                "active": 1,
                "completed": 1,
                "cancelled": 1,
            }
        ]
        assert body["rows"][0]["name"] == "曹县"
        assert body["definitions"] and all(d["zh"] and d["en"] for d in body["definitions"])

    def test_by_mentor_and_province_nationwide(self, client, world, users):
        mentors = by_key(get(client, users["admin"], "reach", by="mentor"))
        a, b = world.mentors["A"].id, world.mentors["B"].id
        assert {k: v["newcomers_reached"] for k, v in mentors.items()} == {a: 3, b: 1}
        provinces = by_key(get(client, users["admin"], "reach", by="province"))
        assert {k: v["newcomers_reached"] for k, v in provinces.items()} == {"37": 3, "53": 1}

    def test_scoping(self, client, world, users):
        assert [r["key"] for r in get(client, users["yunnan"], "reach")["rows"]] == [world.yunnan]
        assert get(client, users["jiangsu"], "reach")["rows"] == []


class TestFulfilment:
    def test_by_mentor(self, client, world, users):
        rows = by_key(get(client, users["shandong"], "fulfilment", by="mentor"))
        a, b = world.mentors["A"].id, world.mentors["B"].id
        assert set(rows) == {a, b}
        assert (rows[a]["done"], rows[a]["partial"], rows[a]["missed"]) == (4, 1, 1)
        assert rows[a]["fulfilment_rate"] == pytest.approx(4.5 / 6)
        assert rows[b]["fulfilment_rate"] == 0.0 and rows[b]["missed"] == 2

    def test_scoping(self, client, world, users):
        assert get(client, users["yunnan"], "fulfilment")["rows"] == []  # m5 has no commitment
        assert get(client, users["jiangsu"], "fulfilment")["rows"] == []


class TestOutcomes:
    def test_by_pairing(self, client, world, users):
        rows = by_key(get(client, users["shandong"], "outcomes", by="pairing"))
        assert rows["chain"] | {} == rows["chain"]
        assert {k: rows["chain"][k] for k in ("matches", "first_sale_90d", "share_first_sale_90d")} == {
            "matches": 1,
            "first_sale_90d": 1,
            "share_first_sale_90d": 1.0,
        }
        assert rows["chain"]["median_days_to_first_sale"] == 30
        assert rows["chain"]["mean_orders_growth"] == 20
        assert (
            rows["same_trade"]["first_sale_90d"] == 0
            and rows["same_trade"]["median_days_to_first_sale"] == 100
        )
        assert rows["same_trade"]["mean_orders_growth"] == 10
        assert rows["other"]["median_days_to_first_sale"] is None
        assert rows["other"]["mean_orders_growth"] is None and rows["other"]["with_first_sale"] == 0

    def test_median_of_an_even_and_an_odd_count(self, client, world, users):
        a = world.mentors["A"].id
        shandong = by_key(get(client, users["shandong"], "outcomes", by="mentor"))[a]
        # Days 30 and 100: the mean of the middle two.
        assert shandong["median_days_to_first_sale"] == 65
        assert shandong["share_first_sale_90d"] == 0.5
        nationwide = by_key(get(client, users["admin"], "outcomes", by="mentor"))[a]
        # Days 30, 60, 100; growth 20, 10, 2.
        assert nationwide["median_days_to_first_sale"] == 60
        assert nationwide["first_sale_90d"] == 2 and nationwide["matches"] == 3
        assert nationwide["mean_orders_growth"] == pytest.approx(32 / 3)

    def test_the_range_bounds_are_inclusive(self, client, world, users):
        rows = get(
            client, users["admin"], "outcomes", by="province", date_from="2026-07-15", date_to="2026-07-15"
        )
        assert [(r["key"], r["matches"], r["median_days_to_first_sale"]) for r in rows["rows"]] == [
            ("37", 1, 5)
        ]

    def test_scoping(self, client, world, users):
        rows = get(client, users["yunnan"], "outcomes", by="county")["rows"]
        assert [(r["key"], r["matches"], r["first_sale_90d"]) for r in rows] == [(world.yunnan, 1, 1)]
        assert get(client, users["jiangsu"], "outcomes")["rows"] == []


class TestFlows:
    def test_matrix_counts_both_directions_of_a_jurisdiction(self, client, world, users):
        body = get(client, users["shandong"], "flows")
        assert [(r["from_province"], r["to_province"], r["matches"]) for r in body["rows"]] == [
            ("32", "37", 2),
            ("53", "37", 1),
        ]
        assert body["extra"]["provinces"] == ["32", "37", "53"]
        assert body["extra"]["matrix"] == [[0, 2, 0], [0, 0, 0], [0, 1, 0]]

    def test_scoping(self, client, world, users):
        yunnan = get(client, users["yunnan"], "flows")["rows"]
        assert [(r["from_province"], r["to_province"], r["matches"]) for r in yunnan] == [
            ("32", "53", 1),
            ("53", "37", 1),
        ]
        jiangsu = get(client, users["jiangsu"], "flows")["rows"]
        assert [(r["from_province"], r["to_province"], r["matches"]) for r in jiangsu] == [
            ("32", "37", 2),
            ("32", "53", 1),
        ]


class TestGaps:
    def test_shandong(self, client, world, users):
        rows = {r["county_code"]: r for r in get(client, users["shandong"], "gaps")["rows"]}
        assert set(rows) == {world.caoxian, world.shandong_other}
        cx = rows[world.caoxian]
        # n3 (only a cancelled match) and n6 wait; m1 and m4 are active; no mentor lives in Caoxian.
        assert (cx["newcomers"], cx["waiting"], cx["active_matches"], cx["mentors"]) == (5, 2, 2, 0)
        assert (cx["no_active_match"], cx["no_mentors"]) == (False, True)
        d = rows[world.shandong_other]
        assert (d["newcomers"], d["waiting"], d["active_matches"], d["mentors"]) == (1, 1, 0, 1)
        assert (d["no_active_match"], d["no_mentors"]) == (True, False)

    def test_the_range_ends_at_beijing_midnight(self, client, db, world, users):
        # 20:00 UTC on the range's last day is 04:00 the next morning in Beijing: after the range.
        end = date.fromisoformat(RANGE["date_to"])
        late = add_newcomer(db, world.shandong_other, "次日清晨登记")
        late.created_at = datetime.combine(end, time(20), tzinfo=UTC)
        db.commit()
        rows = {r["county_code"]: r for r in get(client, users["shandong"], "gaps")["rows"]}
        assert rows[world.shandong_other]["newcomers"] == 1
        late.created_at = datetime.combine(end, time(15, 59), tzinfo=UTC)  # 23:59 in Beijing: inside
        db.commit()
        rows = {r["county_code"]: r for r in get(client, users["shandong"], "gaps")["rows"]}
        assert rows[world.shandong_other]["newcomers"] == 2

    def test_scoping(self, client, world, users):
        # Yunnan: n5 is helped (m5 active) and mentor B lives there: no gap.
        assert get(client, users["yunnan"], "gaps")["rows"] == []
        assert get(client, users["jiangsu"], "gaps")["rows"] == []


class TestEquity:
    def test_quintiles_in_shandong(self, client, world, users):
        rows = get(client, users["shandong"], "equity")["rows"]
        assert [r["quintile"] for r in rows] == [1, 2, 3, 4, 5]
        q1, q2, q3 = rows[0], rows[1], rows[2]
        assert (q1["penetration_min"], q1["penetration_max"]) == (0.1, 0.1)
        assert (
            q1["counties"],
            q1["newcomers"],
            q1["newcomers_matched"],
            q1["matches"],
            q1["first_sale_90d"],
        ) == (
            1,
            5,
            3,
            3,
            1,
        )
        assert q1["match_rate"] == pytest.approx(0.6) and q1["share_first_sale_90d"] == pytest.approx(1 / 3)
        assert (q2["newcomers"], q2["newcomers_matched"], q2["match_rate"], q2["share_first_sale_90d"]) == (
            1,
            0,
            0.0,
            None,
        )
        assert (q3["newcomers"], q3["match_rate"]) == (0, None)

    def test_scoping(self, client, world, users):
        rows = get(client, users["yunnan"], "equity")["rows"]
        assert [(r["quintile"], r["newcomers"], r["newcomers_matched"]) for r in rows if r["newcomers"]] == [
            (3, 1, 1)
        ]
        assert all(r["newcomers"] == 0 for r in get(client, users["jiangsu"], "equity")["rows"])


class TestHomogenisation:
    def test_caoxian_sells_mostly_tea(self, client, world, users):
        rows = get(client, users["shandong"], "homogenisation")["rows"]
        assert [(r["county_code"], r["newcomers"], r["top_category"], r["top_count"]) for r in rows] == [
            (world.caoxian, 5, "tea.growing", 4)
        ]
        assert rows[0]["top_share"] == pytest.approx(0.8) and rows[0]["top_category_name"] == "茶叶种植"

    def test_scoping(self, client, world, users):
        assert get(client, users["yunnan"], "homogenisation")["rows"] == []
        assert get(client, users["jiangsu"], "homogenisation")["rows"] == []


class TestParameters:
    def test_catalogue(self, client, users):
        r = client.get("/api/v1/reports", headers=users["shandong"].headers)
        assert [x["report"] for x in r.json()] == [
            "reach",
            "fulfilment",
            "outcomes",
            "flows",
            "gaps",
            "equity",
            "homogenisation",
        ]

    def test_region_inside_and_outside_the_jurisdiction(self, client, world, users):
        inside = get(client, users["shandong"], "reach", region=world.shandong_other)
        assert inside["scope"] == world.shandong_other and inside["rows"] == []
        r = client.get("/api/v1/reports/reach", params={"region": YUNNAN}, headers=users["shandong"].headers)
        assert r.status_code == 404
        # A code inside the jurisdiction that no region has is said so, not answered with empty rows;
        # outside it, the answer stays the 404 above, so no code is probed beyond one's jurisdiction.
        r = client.get("/api/v1/reports/reach", params={"region": "3799"}, headers=users["shandong"].headers)
        assert r.status_code == 422 and r.json()["code"] == "region_not_found", r.text
        r = client.get("/api/v1/reports/reach", params={"region": "5399"}, headers=users["shandong"].headers)
        assert r.status_code == 404
        r = client.post(
            "/api/v1/honours/evaluate",
            json={"period_start": "2025-01-01", "period_end": "2025-12-31", "region": "3799"},
            headers=users["shandong"].headers,
        )
        assert r.status_code == 422 and r.json()["code"] == "region_not_found", r.text

    @pytest.mark.parametrize(
        ("params", "code"),
        [
            ({"by": "colour"}, "invalid_grouping"),
            ({"date_from": "2026-05-01", "date_to": "2026-04-01"}, "invalid_date_range"),
            ({"date_from": "2016-01-01", "date_to": "2026-04-01"}, "invalid_date_range"),
            ({"format": "pdf"}, "unknown_filter_value"),  # app/query_params.py lists json, xlsx, csv
            ({"date_from": "yesterday"}, "validation_failed"),
            # The ends of the calendar: a default start before year 1, or a day after 9999-12-31.
            ({"date_to": "0001-01-01"}, "invalid_date_range"),
            ({"date_to": "9999-12-31"}, "invalid_date_range"),
            ({"date_from": "9999-12-31", "date_to": "9999-12-31"}, "invalid_date_range"),
            ({"date_from": "0001-01-01", "date_to": "0001-01-02"}, "invalid_date_range"),
        ],
    )
    @pytest.mark.parametrize("report", ["reach", "gaps", "equity", "flows"])
    def test_bad_parameters(self, client, users, params, code, report):
        if report != "reach" and "by" in params:
            return
        r = client.get(f"/api/v1/reports/{report}", params=params, headers=users["shandong"].headers)
        assert r.status_code == 422 and r.json()["code"] == code

    @pytest.mark.parametrize("name", ["zzz", "REACH", "reach2", "x" * 32])
    def test_an_unknown_report_is_not_found(self, client, users, name):
        en = {**users["shandong"].headers, "Accept-Language": "en"}
        r = client.get(f"/api/v1/reports/{name}", headers=en)
        assert r.status_code == 404, r.text
        body = r.json()
        assert body["code"] == "unknown_report" and body["allowed"][0] == "reach"
        assert client.get(f"/api/v1/reports/{name}").status_code == 401  # authentication still comes first

    def test_an_overlong_report_name_is_refused(self, client, users):
        r = client.get(f"/api/v1/reports/{'x' * 33}", headers=users["shandong"].headers)
        assert r.status_code == 422

    def test_a_bad_grouping_lists_the_groupings(self, client, users):
        en = {**users["shandong"].headers, "Accept-Language": "en"}
        body = client.get("/api/v1/reports/reach", params={"by": "colour"}, headers=en).json()
        assert body["allowed"] == ["county", "mentor", "province"]
        assert body["detail"] == "this report groups by one of: county, mentor, province"
        body = client.get("/api/v1/reports/flows", params={"by": "county"}, headers=en).json()
        assert body["code"] == "invalid_grouping" and body["allowed"] == []
        assert "no grouping" in body["detail"]

    def test_unknown_report_and_roles(self, client, users, make_user):
        assert client.get("/api/v1/reports/secrets", headers=users["admin"].headers).status_code == 404
        office = make_user("township_office", "371721121")
        assert client.get("/api/v1/reports/reach", headers=office.headers).status_code == 403
        assert client.get("/api/v1/reports/reach").status_code == 401


class TestExports:
    def test_xlsx_has_the_rows_and_the_definitions(self, client, world, users):
        r = client.get(
            "/api/v1/reports/outcomes",
            params={**RANGE, "by": "mentor", "format": "xlsx"},
            headers=users["admin"].headers,
        )
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
        assert "attachment" in r.headers["content-disposition"]
        wb = load_workbook(io.BytesIO(r.content), read_only=True)
        sheet = [list(row) for row in wb["outcomes"].iter_rows(values_only=True)]
        header = sheet[2]
        assert header[:3] == ["key", "name", "region_code"]
        # Write-only sheets leave trailing empty cells out, so rows may be shorter than the header.
        data = {row[0]: dict(zip(header, row, strict=False)) for row in sheet[3:]}
        assert data[world.mentors["A"].id]["median_days_to_first_sale"] == 60
        assert data[world.mentors["A"].id]["name"] == "花木导师A"
        assert len(list(wb["definitions"].iter_rows())) >= 2

    def test_csv_is_utf8_with_bom(self, client, world, users):
        r = client.get(
            "/api/v1/reports/reach", params={**RANGE, "format": "csv"}, headers=users["shandong"].headers
        )
        assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert rows[0][:3] == ["key", "name", "region_code"]
        assert rows[1][:4] == [world.caoxian, "曹县", world.caoxian, "3"]

    @pytest.mark.parametrize("fmt", ["csv", "xlsx"])
    def test_a_name_that_starts_like_a_formula_is_text(self, client, db, world, users, fmt):
        # Mentor names come from rosters: a township office's file may hold anything.
        world.mentors["A"].name = '\t=HYPERLINK("http://x")'
        db.commit()
        r = client.get(
            "/api/v1/reports/reach",
            params={**RANGE, "by": "mentor", "format": fmt},
            headers=users["admin"].headers,
        )
        assert r.status_code == 200
        if fmt == "csv":
            cells = [c for row in csv.reader(io.StringIO(r.content.decode("utf-8-sig"))) for c in row]
        else:
            sheet = load_workbook(io.BytesIO(r.content), read_only=True)["reach"]
            cells = [c for row in sheet.iter_rows(values_only=True) for c in row]
        assert '\'\t=HYPERLINK("http://x")' in cells
        assert not any(isinstance(c, str) and c.startswith(("=", "\t")) for c in cells)


class TestOutcomeLabels:
    def test_labels_on_the_world(self, db, world):
        labels = {lab.match_id: lab for lab in outcome_labels(db, as_of=date(2026, 12, 1))}
        m = {k: v.id for k, v in world.matches.items()}
        # m1, m4, m5: first sale within 90 days. m2 ended with a late sale and half its periods kept.
        # m3 was cancelled with nothing.
        assert {k: labels[i].success for k, i in m.items()} == {
            "m1": True,
            "m2": False,
            "m3": False,
            "m4": True,
            "m5": True,
        }
        assert labels[m["m1"]].sustained_fulfilment is True and labels[m["m2"]].first_sale_90d is False
        # Pairs activated after the day are left out; ended ones are known whatever their age.
        early = {lab.match_id for lab in outcome_labels(db, as_of=date(2026, 3, 15))}
        assert early == {m["m1"], m["m2"], m["m3"]}
        pairs = outcome_pairs(db)
        assert (world.newcomers["n3"].id, world.mentors["B"].id, 0) in pairs
