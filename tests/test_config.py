"""Start-up guards: production refuses weak secrets and SQLite; the dev key file is private from birth."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from app import config
from app.config import Settings

PG = "postgresql+psycopg://jieduan@db/jieduan"
GOOD_KEY = "k" * 32


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith("JIEDUAN_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("key", [None, "", "   ", "k" * 31, "短" * 10])
def test_production_refuses_missing_empty_or_short_secret(key):
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        _settings(env="production", database_url=PG, secret_key=key)


def test_production_accepts_a_32_byte_secret():
    assert _settings(env="production", database_url=PG, secret_key=GOOD_KEY).secret_key is not None
    # 11 CJK characters are 33 bytes in UTF-8: the rule is about bytes of key material.
    assert _settings(env="production", database_url=PG, secret_key="钥" * 11).secret_key is not None


def test_production_refuses_sqlite_unless_allowed():
    with pytest.raises(ValidationError, match="PostgreSQL"):
        _settings(env="production", database_url="sqlite:///x.db", secret_key=GOOD_KEY)
    allowed = _settings(
        env="production", database_url="sqlite:///x.db", secret_key=GOOD_KEY, allow_sqlite_in_production=True
    )
    assert allowed.database_url.startswith("sqlite")


def test_empty_dev_secret_falls_back_to_the_key_file(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "VAR_DIR", tmp_path)
    monkeypatch.setattr(config._dev_secret, "__defaults__", (tmp_path,))
    settings = _settings(env="dev", secret_key="")
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == (tmp_path / "dev-secret.key").read_text()
    assert len(settings.secret_key.get_secret_value()) >= 32


def test_dev_key_file_is_created_owner_only(tmp_path, monkeypatch):
    # No chmod after the fact may be needed: with a permissive umask and chmod disabled it is still 0600.
    monkeypatch.setattr(Path, "chmod", lambda self, mode: None)
    monkeypatch.setattr(os, "chmod", lambda *a, **k: None)
    old = os.umask(0)
    try:
        key = config._dev_secret(tmp_path)
    finally:
        os.umask(old)
    path = tmp_path / "dev-secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert config._dev_secret(tmp_path) == key  # read back, not replaced


@pytest.mark.parametrize("writes", [24, 30])
def test_writers_may_not_take_every_admission(writes):
    # Reads must always have slots that blocked writers cannot fill.
    with pytest.raises(ValidationError, match="MAX_CONCURRENT_WRITES"):
        _settings(max_concurrent_requests=24, max_concurrent_writes=writes, secret_key=GOOD_KEY)
    assert _settings(max_concurrent_requests=24, max_concurrent_writes=23, secret_key=GOOD_KEY)
