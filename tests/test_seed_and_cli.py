"""The demo seed and the operator command line."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.accounts.service import create_staff_account
from app.cli import main as cli_main
from app.config import get_settings
from app.errors import Unprocessable
from app.models import Account, Mentor, MentorProduct, Newcomer, Region
from app.seed.demo import seed_demo


def test_seed_is_complete_deterministic_and_idempotent(db):
    result = seed_demo(db, mentors=40, newcomers=120, seed=7)
    assert result == {"accounts": 7, "mentors": 40, "newcomers": 120}
    assert seed_demo(db, mentors=40, newcomers=120, seed=7) == {"skipped": "demo data already present"}
    mentors = db.scalars(select(Mentor)).all()
    assert len(mentors) == 40 and db.scalar(select(func.count()).select_from(Newcomer)) == 120
    # Every profile sits in a real region of its county and has at least one product.
    codes = {m.region_code for m in mentors}
    assert db.scalar(select(func.count()).select_from(Region).where(Region.code.in_(codes))) == len(codes)
    assert all(m.region_code.startswith(m.county_code) and m.products for m in mentors)
    assert db.scalar(select(func.count(func.distinct(MentorProduct.mentor_id)))) == 40
    demo = db.scalar(select(Mentor).where(Mentor.account_id.is_not(None)))
    assert db.get(Account, demo.account_id).username == "13800000001"
    assert db.scalar(select(func.count()).select_from(Region).where(Region.penetration.is_not(None))) > 2000


def test_settings_command_hides_secrets(capsys, monkeypatch):
    monkeypatch.setenv("JIEDUAN_SECRET_KEY", "do-not-print-me")
    monkeypatch.setenv("JIEDUAN_DATABASE_URL", "postgresql+psycopg://user:pw@db.internal/jieduan")
    get_settings.cache_clear()
    try:
        cli_main(["settings"])
    finally:
        get_settings.cache_clear()
    shown = json.loads(capsys.readouterr().out)
    assert shown["secret_key"] == "***"
    assert shown["database_url"] == "postgresql+psycopg://***@db.internal/jieduan"
    assert "do-not-print-me" not in json.dumps(shown) and "pw" not in shown["database_url"]


def test_staff_accounts_need_a_real_password(db):
    """The CLI and the seed bypass the API schemas; the service still refuses short passwords."""
    with pytest.raises(Unprocessable):
        create_staff_account(
            db,
            username="cli-coord",
            password="short",
            role="coordinator",
            display_name="c",
            jurisdiction_code="32",
        )
    account = create_staff_account(
        db,
        username="cli-coord",
        password="long enough 1",
        role="coordinator",
        display_name="c",
        jurisdiction_code="32",
    )
    assert account.password_hash.startswith("$argon2id$")
