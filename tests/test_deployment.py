"""compose.yaml and the Dockerfile describe the deployment the README documents."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)s", value)
    assert match, value
    return float(match.group(1))


def test_services_and_their_order(compose):
    services = compose["services"]
    assert {"db", "migrate", "web", "worker"} <= services.keys()
    assert services["db"]["image"].startswith("postgres")
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    migrate = " ".join(services["migrate"]["command"])
    assert "jieduan migrate" in migrate and "jieduan load-reference --if-empty" in migrate
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["db"]["condition"] == "service_healthy"
        env = services[name]["environment"]
        assert env["JIEDUAN_RUN_WORKER"] == "false" and env["JIEDUAN_ENV"] == "production"
        assert env["JIEDUAN_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert int(services["web"]["environment"]["JIEDUAN_WORKERS"]) > 1
    assert services["worker"]["command"] == ["jieduan", "worker"]
    assert services["worker"]["deploy"]["replicas"] >= 1


def test_stop_timeout_leaves_room_for_the_worker_grace_period(compose):
    worker = compose["services"]["worker"]
    grace = float(worker["environment"]["JIEDUAN_WORKER_SHUTDOWN_GRACE_SECONDS"])
    assert _seconds(worker["stop_grace_period"]) > grace


def test_image_neither_migrates_at_start_nor_runs_jobs_in_web_workers():
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    cmd = next(line for line in dockerfile.splitlines() if line.startswith("CMD"))
    assert "migrate" not in cmd and "--workers" in cmd
    assert "JIEDUAN_RUN_WORKER=false" in dockerfile


def _has_compose() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(
    not _has_compose(), reason="no docker compose on this machine (the YAML checks above still ran)"
)
def test_docker_compose_accepts_the_file():
    env = {"POSTGRES_PASSWORD": "x", "JIEDUAN_SECRET_KEY": "k" * 32, "PATH": "/usr/bin:/bin:/usr/local/bin"}
    result = subprocess.run(
        ["docker", "compose", "-f", str(ROOT / "compose.yaml"), "config", "-q"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
