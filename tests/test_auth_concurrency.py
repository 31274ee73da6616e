"""Auth limits hold under real concurrency: threads against real uvicorn servers on loopback.

Runs on both databases. The counts live in the database, so two servers with their own engines (as two
worker processes would have) share them.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy.orm import Session

from app.auth import service, throttle
from app.auth.passwords import hash_password
from app.config import Settings
from app.db import make_engine
from app.models import Account
from tests.conftest import TEST_PASSWORD
from tests.live import live_server, private_database


def _settings(url: str, **overrides: object) -> Settings:
    return Settings(
        env="test",
        database_url=url,
        secret_key="live-secret-key-0123456789abcdef",
        run_worker=False,
        log_level="WARNING",
        **overrides,
    )


@pytest.fixture(scope="module")
def live_url(database_url, tmp_path_factory):
    with private_database(database_url, tmp_path_factory.mktemp("auth-live")) as url:
        yield url


def _account(url: str) -> str:
    engine = make_engine(url)
    username = f"1{uuid.uuid4().int % 10**10:010d}"
    with Session(engine) as s:
        s.add(
            Account(
                username=username,
                password_hash=hash_password(TEST_PASSWORD),
                role="newcomer",
                display_name="n",
                phone=username,
            )
        )
        s.commit()
    engine.dispose()
    return username


def _fire(
    bases: list[str], n: int, request: Callable[[httpx.Client, int], httpx.Response]
) -> list[httpx.Response]:
    """Send n requests at the same instant from separate threads and connections, spread over servers."""
    barrier = threading.Barrier(n)
    results: list[httpx.Response | None] = [None] * n

    def send(i: int) -> None:
        with httpx.Client(base_url=bases[i % len(bases)], timeout=120) as client:
            barrier.wait()
            results[i] = request(client, i)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r is not None for r in results)
    return results  # type: ignore[return-value]


def test_forty_parallel_logins_check_at_most_five_wrong_passwords(live_url):
    username = _account(live_url)
    settings = _settings(live_url, auth_client_max_requests=10_000)
    with live_server(settings) as a, live_server(settings) as b:

        def login(client: httpx.Client, i: int) -> httpx.Response:
            password = TEST_PASSWORD if i == 0 else f"wrong password {i}"
            return client.post("/api/v1/auth/token", data={"username": username, "password": password})

        responses = _fire([a, b], 40, login)
    outcome = Counter(r.status_code for r in responses)
    assert set(outcome) <= {200, 401, 429}, outcome
    # At most five wrong passwords are checked; the owner's one success may come on top of them.
    assert outcome[401] <= 5 and outcome[200] <= 1, outcome
    assert outcome[429] >= 34, outcome
    throttled = [r for r in responses if r.status_code == 429]
    assert all(r.json()["code"] == "login_throttled" and int(r.headers["retry-after"]) > 0 for r in throttled)


def test_client_limit_holds_across_servers(live_url):
    settings = _settings(live_url, auth_client_max_requests=12, auth_client_window_seconds=3600)
    with live_server(settings) as a, live_server(settings) as b:

        def login(client: httpx.Client, i: int) -> httpx.Response:
            # Random usernames: the per-username throttle never fires, only the per-client one can.
            name = f"nobody-{uuid.uuid4().hex[:12]}"
            return client.post("/api/v1/auth/token", data={"username": name, "password": "wrong password!"})

        responses = _fire([a, b], 40, login)
        outcome = Counter(r.status_code for r in responses)
        assert outcome == {401: 12, 429: 28}, outcome
        limited = [r for r in responses if r.status_code == 429]
        assert all(r.json()["code"] == "too_many_requests" for r in limited)
        # The wait ends when the first attempt has left the hour, at most one slot later.
        assert all(0 < int(r.headers["retry-after"]) <= 3600 + 3600 / throttle.SLOTS for r in limited)
        # Register and refresh share the client's budget.
        with httpx.Client(base_url=b, timeout=120) as client:
            body = {"phone": "13811112222", "password": TEST_PASSWORD, "role": "mentor", "display_name": "x"}
            assert client.post("/api/v1/auth/register", json=body).status_code == 429
            assert client.post("/api/v1/auth/refresh", json={"refresh_token": "x" * 20}).status_code == 429


def test_password_checks_run_off_the_event_loop(live_url, monkeypatch):
    """While a password check is in progress, the server still answers: it is not on the event loop."""
    inside, release = threading.Event(), threading.Event()
    released: list[bool] = []
    real_verify = service.verify_password

    def slow_verify(password: str, password_hash: str) -> bool:
        inside.set()
        # Set only by the /healthz answer below; a check on the event loop would block that answer.
        released.append(release.wait(30))
        return real_verify(password, password_hash)

    monkeypatch.setattr(service, "verify_password", slow_verify)
    username = _account(live_url)
    with live_server(_settings(live_url)) as base:
        login = threading.Thread(
            target=httpx.post,
            args=(f"{base}/api/v1/auth/token",),
            kwargs={"data": {"username": username, "password": TEST_PASSWORD}, "timeout": 60},
        )
        login.start()
        assert inside.wait(30), "the login never reached the password check"
        health = httpx.get(f"{base}/healthz", timeout=60)
        release.set()
        login.join()
    assert health.status_code == 200
    assert released == [True], "the password check held the event loop"
