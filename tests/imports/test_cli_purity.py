"""`jieduan import` runs without the numeric stack of the matching model (scikit-learn, SciPy, OR-Tools)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.config import PROJECT_ROOT
from tests.imports.conftest import API_HEADER, api_row, csv_bytes
from tests.live import private_database

HEAVY = ("sklearn", "scipy", "ortools")
# Runs the real entry point, then reports which heavy packages the process ever loaded.
PROBE = (
    "import atexit, sys\n"
    f"atexit.register(lambda: print('LOADED=' + ','.join(m for m in {HEAVY!r} if m in sys.modules)))\n"
    "from app.cli import main\n"
    "main(sys.argv[1:])\n"
)


@pytest.fixture
def committed_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with private_database(database_url, tmp_path_factory.mktemp("cli")) as url:
        yield url


def _run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JIEDUAN_DATABASE_URL": url, "JIEDUAN_SECRET_KEY": "c" * 32}
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


def test_import_cli_loads_no_model_stack(committed_url: str, tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_bytes(csv_bytes([api_row(2), api_row(3)], header=API_HEADER))
    result = _run(committed_url, "import", str(roster), "--township", "321322115")
    assert result.returncode == 0, result.stderr
    report, loaded = result.stdout.rsplit("LOADED=", 1)
    assert json.loads(report)["counts"]["created"] == 2  # the import really ran
    assert loaded.strip() == ""


def test_the_probe_sees_a_heavy_import(committed_url: str) -> None:
    # Guards the probe: a command that does load the model stack must be reported.
    env = {**os.environ, "JIEDUAN_DATABASE_URL": committed_url}
    code = PROBE.replace("from app.cli import main\nmain(sys.argv[1:])\n", "import sklearn\n")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert "sklearn" in result.stdout.rsplit("LOADED=", 1)[1]
