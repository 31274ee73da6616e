"""Routes whose account lookup, handler and commit share one thread-pool hop (app.deps.OneHopRoute).

The framework checks their parameters before that hop: these tests hold the order of the answers
(401, then 403, then 422) and the account rules (deactivation, demotion) to what every other route does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.models import Account
from app.profiles import service
from tests.conftest import JIANGSU, mentor_payload

# Each path fails the framework's own parameter check (a bound, a pattern or an enum).
BAD_PARAMETERS = (
    "/api/v1/mentors?limit=500",
    "/api/v1/mentors?region=3",
    "/api/v1/proposals?status=zzz",
    "/api/v1/mentors/0",
)


def _set(db, user, **fields: object) -> None:
    account = db.get(Account, user.id)
    for name, value in fields.items():
        setattr(account, name, value)
    db.commit()


@pytest.mark.parametrize("path", BAD_PARAMETERS)
def test_a_deactivated_account_gets_401_whatever_the_parameters_say(path, client, make_user, db):
    coordinator = make_user("coordinator", JIANGSU)
    _set(db, coordinator, is_active=False)
    r = client.get(path, headers=coordinator.headers)
    assert r.status_code == 401, r.text
    assert r.json()["code"] == "account_inactive"


@pytest.mark.parametrize("path", BAD_PARAMETERS[:3])
def test_a_demoted_account_gets_403_whatever_the_parameters_say(path, client, make_user, db):
    # The token still says coordinator; the account says mentor now, which may not list or review.
    coordinator = make_user("coordinator", JIANGSU)
    _set(db, coordinator, role="mentor", jurisdiction_code=None)
    r = client.get(path, headers=coordinator.headers)
    assert r.status_code == 403, r.text


def test_an_anonymous_caller_gets_401_before_the_parameters_are_read(client):
    for path in BAD_PARAMETERS:
        r = client.get(path, headers={"Authorization": "Bearer not-a-token"})
        assert r.status_code == 401, (path, r.text)
        assert client.get(path).status_code == 401


def test_the_query_check_still_precedes_the_parameter_check(client, make_user):
    coordinator = make_user("coordinator", JIANGSU)
    r = client.get("/api/v1/mentors?limit=500&colour=red", headers=coordinator.headers)
    assert r.status_code == 422
    assert r.json()["code"] == "unknown_query_parameter" and r.json()["unknown"] == ["colour"]
    r = client.get("/api/v1/mentors?limit=500", headers=coordinator.headers)
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"


def test_deactivation_and_demotion_bite_on_the_next_request(client, make_user, db):
    coordinator = make_user("coordinator", JIANGSU)
    for path in ("/api/v1/mentors", "/api/v1/proposals"):
        assert client.get(path, headers=coordinator.headers).status_code == 200
    _set(db, coordinator, role="township_office", jurisdiction_code="321322115")
    assert client.get("/api/v1/proposals", headers=coordinator.headers).status_code == 403
    _set(db, coordinator, is_active=False)
    for path in ("/api/v1/mentors", "/api/v1/proposals"):
        r = client.get(path, headers=coordinator.headers)
        assert r.status_code == 401 and r.json()["code"] == "account_inactive"


def test_gets_share_the_read_threads_and_writes_do_not_wait_for_them(app, client, make_user, monkeypatch):
    app.state.settings = app.state.settings.model_copy(update={"read_threads": 1})
    coordinator = make_user("coordinator", JIANGSU)
    mentor = make_user("mentor")
    release, entered = threading.Event(), threading.Semaphore(0)
    real = service.list_rows

    def held(*args, **kwargs):  # type: ignore[no-untyped-def]
        entered.release()
        assert release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "list_rows", held)
    with ThreadPoolExecutor(2) as pool:
        pages = [pool.submit(client.get, "/api/v1/mentors", headers=coordinator.headers) for _ in range(2)]
        try:
            assert entered.acquire(timeout=30)
            # The second GET waits for the one read thread; it has not reached the service.
            limiter = next(iter(app.state.jieduan_read_limiters.values()))
            assert _eventually(lambda: limiter.statistics().tasks_waiting == 1)
            assert not entered.acquire(blocking=False)
            # A write is served from the framework's pool meanwhile.
            r = client.post("/api/v1/mentors", json=mentor_payload(), headers=mentor.headers)
            assert r.status_code == 201, r.text
        finally:
            release.set()
        assert [p.result(timeout=30).status_code for p in pages] == [200, 200]
    assert limiter.borrowed_tokens == 0 and limiter.total_tokens == 1


def _eventually(check: Callable[[], bool], seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
