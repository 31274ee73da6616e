"""Region browsing, search and resolution over the real division table."""

from __future__ import annotations

import pytest

from tests.conftest import JIANGSU, SHUYANG, SUQIAN, ZHAXIA


@pytest.fixture
def headers(make_user):
    return make_user("newcomer").headers


def test_provinces_then_children(client, headers):
    provinces = client.get("/api/v1/regions", params={"limit": 100}, headers=headers).json()["items"]
    assert 31 <= len(provinces) <= 34
    assert {"code": JIANGSU, "name": "江苏省"}.items() <= next(
        p for p in provinces if p["code"] == JIANGSU
    ).items()
    towns = client.get("/api/v1/regions", params={"parent": SHUYANG, "limit": 100}, headers=headers).json()
    assert ZHAXIA in [t["code"] for t in towns["items"]]
    assert all(t["level"] == "township" and t["parent_code"] == SHUYANG for t in towns["items"])


def test_children_paginate_without_overlap(client, headers):
    first = client.get("/api/v1/regions", params={"parent": SHUYANG, "limit": 5}, headers=headers).json()
    second = client.get(
        "/api/v1/regions",
        params={"parent": SHUYANG, "limit": 5, "cursor": first["next_cursor"]},
        headers=headers,
    ).json()
    a, b = [r["code"] for r in first["items"]], [r["code"] for r in second["items"]]
    assert len(a) == len(b) == 5 and a[-1] < b[0]


@pytest.mark.parametrize("q", ["沭阳", "shuyang", "syx"])
def test_search_by_name_pinyin_initials(client, headers, q):
    r = client.get("/api/v1/regions/search", params={"q": q, "level": "county"}, headers=headers)
    assert r.status_code == 200
    assert SHUYANG in [x["code"] for x in r.json()]


def test_search_within_scope(client, headers):
    r = client.get(
        "/api/v1/regions/search", params={"q": "镇", "within": SHUYANG, "limit": 50}, headers=headers
    )
    assert r.json() and all(x["code"].startswith(SHUYANG) for x in r.json())


def test_resolve_full_path(client, headers):
    r = client.get(f"/api/v1/regions/{ZHAXIA}", headers=headers)
    body = r.json()
    assert [p["code"] for p in body["path"]] == [JIANGSU, SUQIAN, SHUYANG, ZHAXIA]
    assert body["full_name"] == "江苏省宿迁市沭阳县扎下镇"


def test_unknown_and_malformed_codes(client, headers):
    assert client.get("/api/v1/regions/999999", headers=headers).json()["code"] == "region_not_found"
    assert client.get("/api/v1/regions/12345", headers=headers).status_code == 422


def test_search_text_with_a_control_character_is_422(client, make_user):
    user = make_user("coordinator", JIANGSU)
    for url in ("/api/v1/regions/search?q=%00", "/api/v1/mentors?q=a%00b"):
        r = client.get(url, headers=user.headers)
        assert r.status_code == 422 and r.json()["code"] == "validation_failed", url
