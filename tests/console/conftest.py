"""Browser fixtures: a seeded private database, a real uvicorn server with its worker, Debian's Chromium."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import make_engine
from app.seed.demo import DEMO_PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTEFACTS = Path(__file__).resolve().parents[2] / "artefacts" / "console"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 60_000  # generous: the machine may be busy; no test asserts how long anything takes


@dataclass
class Live:
    """The running console and a way to reach its database directly."""

    url: str
    sessions: sessionmaker[Session]

    def wait_for(self, check: Callable[[Session], bool], timeout: float = 120.0) -> None:
        """Poll the database until the worker has done something."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.sessions() as s:
                if check(s):
                    return
            time.sleep(0.3)
        raise AssertionError("the background work did not finish")


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    from app.accounts.service import create_staff_account
    from app.models import Region
    from app.seed.demo import seed_demo
    from tests.live import live_server, private_database

    base = os.environ.get("JIEDUAN_TEST_DATABASE_URL", "sqlite://")
    with private_database(base, tmp_path_factory.mktemp("console")) as url:
        engine = make_engine(url)
        sessions = sessionmaker(engine, expire_on_commit=False)
        with sessions.begin() as s:
            seed_demo(s, mentors=300, newcomers=1200, seed=11)
            # A second township office, for the isolation test.
            other = s.scalar(
                select(Region.code).where(Region.level == "township", Region.code.startswith("371721"))
            )
            create_staff_account(
                s,
                username="office-other",
                password=DEMO_PASSWORD,
                role="township_office",
                display_name="另一个乡镇",
                jurisdiction_code=other,
            )
        settings = Settings(
            env="test",
            database_url=url,
            secret_key="console-test-secret-0123456789abcdef",
            run_worker=True,
            worker_poll_seconds=0.2,
            log_level="WARNING",
        )
        with live_server(settings) as server_url:
            yield Live(server_url, sessions)
        engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium package is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def open_page(browser, live):  # type: ignore[no-untyped-def]
    """A fresh browser context (its own cookies), optionally signed in; closed after the test."""
    contexts = []

    def _open(username: str | None = None, *, viewport: dict[str, int] = DESKTOP, lang: str | None = None):  # type: ignore[no-untyped-def]
        context = browser.new_context(viewport=viewport, base_url=live.url, accept_downloads=True)
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        page = context.new_page()
        if lang == "en":
            page.goto("/console/lang/en?next=/console/login")
        if username:
            sign_in(page, username)
        return page

    yield _open
    for c in contexts:
        c.close()


def sign_in(page, username: str, password: str = DEMO_PASSWORD) -> None:  # type: ignore[no-untyped-def]
    """Fill and send the sign-in form the way a person would."""
    page.goto("/console/login")
    page.get_by_label("用户名").or_(page.get_by_label("Username")).fill(username)
    page.get_by_label("密码").or_(page.get_by_label("Password")).fill(password)
    page.locator("form[action='/console/login'] button[type=submit]").click()
    page.wait_for_url("**/console")


def shoot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    """Save a full-page screenshot as a test artefact."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def no_horizontal_scroll(page) -> bool:  # type: ignore[no-untyped-def]
    """The page fits the viewport's width (wide tables scroll inside their own box)."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))
