"""The recommendation index under profile churn: rebuilt at most once per interval, off the readers'
path; edits show once it is rebuilt; the hard rules (active, a seat left, another county) at once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import update

from app.models import Mentor
from app.recommendations import index as index_module
from app.recommendations.index import RecommenderCache
from tests.conftest import DAJI, mentor_payload, newcomer_payload

INTERVAL = 60.0


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(app) -> FakeClock:
    clock = FakeClock()
    app.state.recommender_cache = RecommenderCache(INTERVAL, clock=clock)
    return clock


@pytest.fixture
def world(client, make_user) -> dict[str, Any]:
    """A tea grower in Caoxian who needs technology and logistics, and tea processors in Shuyang."""
    admin = make_user("admin")
    owner = make_user("newcomer")
    newcomer = client.post("/api/v1/newcomers", json=newcomer_payload(), headers=owner.headers).json()
    offers = {
        "both": [{"type": "technology", "description": "制茶"}, {"type": "logistics", "description": "冷链"}],
        "information": [{"type": "information", "description": "行情"}],
    }
    mentors = {}
    for i, (name, products, offered) in enumerate(
        [
            ("A", ["tea.processing"], "both"),
            ("B", ["tea.processing"], "information"),
            ("C", ["tea.packaging_gifts"], "both"),
            ("D", ["tea.processing", "tea.ware"], "information"),
            ("E", ["flowers.seedlings"], "both"),
            ("F", ["tea.packaging_gifts"], "information"),
        ]
    ):
        body = mentor_payload(
            name=f"茶厂{name}", products=products, resources_offered=offers[offered], phone=f"1391234500{i}"
        )
        r = client.post("/api/v1/mentors", json=body, headers=admin.headers)
        assert r.status_code == 201, r.text
        mentors[name] = r.json()["id"]
    return {"admin": admin, "owner": owner, "newcomer_id": newcomer["id"], "mentors": mentors}


def _recommend(client, world: dict[str, Any], k: int = 5) -> list[dict[str, Any]]:
    r = client.get(
        f"/api/v1/newcomers/{world['newcomer_id']}/recommendations",
        params={"k": k},
        headers=world["owner"].headers,
    )
    assert r.status_code == 200, r.text
    recs = r.json()
    assert [x["rank"] for x in recs] == list(range(1, len(recs) + 1))
    return recs


def _by_mentor(recs: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {x["mentor"]["id"]: x for x in recs}


def _patch(client, world: dict[str, Any], mentor_id: int, body: dict[str, Any]) -> None:
    url = f"/api/v1/mentors/{mentor_id}"
    etag = client.get(url, headers=world["admin"].headers).headers["etag"]
    r = client.patch(url, json=body, headers={**world["admin"].headers, "If-Match": etag})
    assert r.status_code == 200, r.text


def _fresh(app, client, world: dict[str, Any], k: int = 5) -> list[dict[str, Any]]:
    """What a newly built index answers (a cache of its own, so nothing is stale)."""
    app.state.recommender_cache = RecommenderCache(INTERVAL, clock=FakeClock())
    return _recommend(client, world, k)


def test_an_edit_shows_once_the_index_is_older_than_the_interval(app, client, world, clock):
    b = world["mentors"]["B"]
    before = _by_mentor(_recommend(client, world, k=6))[b]["score_parts"]["resources"]
    _patch(client, world, b, {"resources_offered": [{"type": "technology"}, {"type": "logistics"}]})

    # Within the interval the index is kept (no rebuild per edit): B's parts are as they were.
    assert _by_mentor(_recommend(client, world, k=6))[b]["score_parts"]["resources"] == before
    clock.now += INTERVAL
    # The index is now old enough: the first request after that rebuilds it, and sees the edit.
    recs = _recommend(client, world, k=6)
    assert _by_mentor(recs)[b]["score_parts"]["resources"] > before
    cache = app.state.recommender_cache
    assert [(x["mentor"]["id"], x["score"]) for x in recs] == [
        (x["mentor"]["id"], x["score"]) for x in _fresh(app, client, world, k=6)
    ]
    # Nothing changed since: the rebuilt index stays, whatever the clock says.
    app.state.recommender_cache = cache
    clock.now += 10 * INTERVAL
    assert _recommend(client, world, k=6) == recs


def test_the_hard_rules_apply_at_once_without_a_rebuild(app, client, db, world, clock):
    m = world["mentors"]
    assert set(_by_mentor(_recommend(client, world, k=6))) == set(m.values())

    assert client.delete(f"/api/v1/mentors/{m['A']}", headers=world["admin"].headers).status_code == 204
    db.execute(update(Mentor).where(Mentor.id == m["B"]).values(capacity_used=Mentor.capacity))
    db.commit()
    _patch(client, world, m["C"], {"region_code": DAJI})  # moved into the newcomer's own county

    # The index predates all three changes and is younger than the interval; the answer is right anyway.
    stale = _recommend(client, world, k=6)
    assert set(_by_mentor(stale)) == {m["D"], m["E"], m["F"]}
    clock.now += INTERVAL
    rebuilt = _recommend(client, world, k=6)
    assert set(_by_mentor(rebuilt)) == {m["D"], m["E"], m["F"]}
    assert [x["mentor"]["id"] for x in rebuilt] == [
        x["mentor"]["id"] for x in _fresh(app, client, world, k=6)
    ]


def test_k_is_filled_from_beyond_the_mentors_ruled_out(client, world, clock):
    m = world["mentors"]
    top = [x["mentor"]["id"] for x in _recommend(client, world, k=2)]
    for mentor_id in top:
        assert (
            client.delete(f"/api/v1/mentors/{mentor_id}", headers=world["admin"].headers).status_code == 204
        )
    # Two fewer mentors, but still two answers, none of them deactivated.
    again = [x["mentor"]["id"] for x in _recommend(client, world, k=2)]
    assert len(again) == 2 and not set(again) & set(top) and set(again) <= set(m.values())


class _Fakes:
    """Stand-ins for the database reads of the cache: a settable fingerprint and a build that can block."""

    def __init__(self) -> None:
        self.fingerprint: tuple[Any, ...] = (1,)
        self.builds = 0
        self.gate = threading.Event()
        self.gate.set()
        self.building = threading.Event()

    def build(self, session: object, model: object) -> object:
        self.builds += 1
        self.building.set()
        assert self.gate.wait(30)
        return f"index {self.builds}"


@pytest.fixture
def fakes(monkeypatch) -> _Fakes:
    fakes = _Fakes()
    monkeypatch.setattr(index_module, "table_fingerprint", lambda session: fakes.fingerprint)
    monkeypatch.setattr(index_module, "active_model", lambda session, region: None)
    monkeypatch.setattr(index_module, "build_recommender", fakes.build)
    return fakes


def _in_thread(cache: RecommenderCache) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []
    thread = threading.Thread(target=lambda: out.append(cache.get(object())), daemon=True)
    thread.start()
    return thread, out


def test_readers_keep_the_old_index_while_one_request_rebuilds(fakes):
    cache = RecommenderCache(0.0)
    assert cache.get(object()) == "index 1"
    fakes.fingerprint = (2,)
    fakes.gate.clear()
    fakes.building.clear()
    builder, built = _in_thread(cache)
    assert fakes.building.wait(30)
    # While that rebuild runs, others answer at once from the old index, and start no rebuild of their own.
    reader, read = _in_thread(cache)
    reader.join(30)
    assert read == ["index 1"] and fakes.builds == 2
    fakes.gate.set()
    builder.join(30)
    assert built == ["index 2"]
    assert cache.get(object()) == "index 2" and fakes.builds == 2  # swapped in; nothing left to rebuild


def test_at_most_one_rebuild_per_interval_under_churn(fakes):
    clock = FakeClock()
    cache = RecommenderCache(INTERVAL, clock=clock)
    cache.get(object())
    for step in range(1, 20):  # an edit every half second, a request after each
        clock.now += 0.5
        fakes.fingerprint = (step,)
        cache.get(object())
    assert fakes.builds == 1
    clock.now += INTERVAL
    assert cache.get(object()) == "index 2" and fakes.builds == 2


def test_the_first_index_of_a_model_is_built_once_while_the_others_wait(fakes):
    cache = RecommenderCache(INTERVAL)
    fakes.gate.clear()
    threads = [_in_thread(cache) for _ in range(4)]
    assert fakes.building.wait(30)
    fakes.gate.set()
    for thread, _ in threads:
        thread.join(30)
    assert [out for _, out in threads] == [["index 1"]] * 4 and fakes.builds == 1
