"""The README's tour runs as written: its `<!-- tour -->` shell blocks, with bash, curl and python3,
against a live server seeded with the demo data set (smaller than `make run`'s, same story).

Each logical command of the blocks is one step. A curl wrapper (defined here, not in the README) writes
every HTTP status to stderr, so each step is checked for its statuses (only the steps listed in
EXPECTED_ERRORS may answer 4xx, and only with that status) and for the JSON it prints.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import make_engine
from app.models import Account, Mentor, Newcomer
from app.seed.demo import DEMO_MENTOR_PHONE, DEMO_NEWCOMER_PHONE, seed_demo
from tests.live import live_server, private_database

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MARK = "<!-- tour -->"
BASE = "http://127.0.0.1:8000"
CURL_WRAPPER = "curl() { command curl -w '%{stderr}@@http %{http_code}\\n' \"$@\"; }"

pytestmark = pytest.mark.skipif(
    shutil.which("curl") is None or shutil.which("bash") is None, reason="the tour needs bash and curl"
)


def tour_blocks(readme: str) -> list[str]:
    """The shell blocks that follow a tour marker, in README order."""
    return re.findall(re.escape(MARK) + r"\n```sh\n(.*?)```", readme, flags=re.DOTALL)


def tour_steps(block: str) -> list[str]:
    """Logical commands: lines joined over trailing backslashes; comment-only and blank lines dropped."""
    steps: list[str] = []
    current: list[str] = []
    for line in block.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current.append(line)
        if not line.endswith("\\"):
            steps.append("\n".join(current))
            current = []
    assert not current, "a tour block ends inside a continued line"
    return steps


@dataclass
class Step:
    """One command as run: its text, what it printed, and the HTTP statuses of its requests."""

    command: str
    stdout: str = ""
    statuses: list[int] = field(default_factory=list)

    def json(self) -> Any:
        """The JSON it printed (after any response headers that `curl -D -` wrote first)."""
        body = self.stdout.split("\n\n", 1)[-1] if self.stdout.startswith("HTTP/") else self.stdout
        return json.loads(body)


def run_tour(steps: list[str], base_url: str, cwd: Path) -> list[Step]:
    """Run every step in one bash process (variables carry over); stop at the first that fails."""
    lines = ["set -euo pipefail", CURL_WRAPPER]
    for i, command in enumerate(steps):
        lines += [f"echo '@@step {i}'; echo '@@step {i}' >&2", command.replace(BASE, base_url), "echo"]
    done = subprocess.run(
        ["bash", "-c", "\n".join(lines)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    results = [Step(c) for c in steps]
    for i, chunk in _chunks(done.stdout):
        results[i].stdout = chunk.strip()
    last = -1
    for i, chunk in _chunks(done.stderr):
        results[i].statuses = [int(s) for s in re.findall(r"^@@http (\d{3})$", chunk, flags=re.MULTILINE)]
        last = i
    assert done.returncode == 0, (
        f"tour step failed (exit {done.returncode}):\n{steps[last]}\nstderr:\n{done.stderr[-3000:]}"
    )
    return results


def _chunks(text: str) -> Iterator[tuple[int, str]]:
    parts = re.split(r"^@@step (\d+)\n", text, flags=re.MULTILINE)
    for index, chunk in zip(parts[1::2], parts[2::2], strict=True):
        yield int(index), chunk


# Steps allowed (and required) to answer an error, by a piece of their command.
EXPECTED_ERRORS = {
    'category=flower"': 422,
    "mentors?province=32": 422,
    "mentors/999999": 404,
    '-d \'{"reason_code":"too_far"}\'': 428,
}


@dataclass
class Demo:
    """The live server and what the test knows of its seed."""

    url: str
    mentor_id: int
    newcomer_id: int


@pytest.fixture(scope="module")
def demo(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with private_database(database_url, tmp_path_factory.mktemp("tour")) as url:
        engine = make_engine(url)
        with Session(engine) as session, session.begin():
            # Smaller than `make run` (2,000 / 10,000) so the test takes seconds; the same story and
            # a year of history, and enough Jiangsu flower mentors for the paging step.
            seed_demo(session, mentors=300, newcomers=1500, history=True)
        with Session(engine) as session:
            mentor_id = _profile_of(session, Mentor, DEMO_MENTOR_PHONE)
            newcomer_id = _profile_of(session, Newcomer, DEMO_NEWCOMER_PHONE)
        settings = Settings(
            env="test",
            database_url=url,
            secret_key="tour-secret-key-0123456789abcdef",
            run_worker=True,
            worker_poll_seconds=0.2,
            log_level="WARNING",
        )
        with live_server(settings) as base:
            yield Demo(base, mentor_id, newcomer_id)
        engine.dispose()


def _profile_of(session: Session, model: type[Mentor] | type[Newcomer], username: str) -> int:
    account = session.scalar(select(Account.id).where(Account.username == username))
    profile = session.scalar(select(model.id).where(model.account_id == account))
    assert profile is not None
    return profile


def test_the_tour_blocks_are_found() -> None:
    blocks = tour_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 3
    steps = [s for b in blocks for s in tour_steps(b)]
    # Every placeholder is gone: ids come from earlier steps, never from the reader.
    assert not [s for s in steps if re.search(r"<[a-z_ ]+>", s)]
    assert all(piece in "\n".join(steps) for piece in EXPECTED_ERRORS)


def test_the_readme_tour_runs_as_written(demo: Demo, tmp_path: Path) -> None:
    steps = [s for b in tour_blocks(README.read_text(encoding="utf-8")) for s in tour_steps(b)]
    (tmp_path / "docs").symlink_to(ROOT / "docs")  # the import step uploads docs/sample-roster-gbk.csv
    results = run_tour(steps, demo.url, tmp_path)

    for step in results:
        expected = [status for piece, status in EXPECTED_ERRORS.items() if piece in step.command]
        if expected:
            assert step.statuses == expected, step.command
        else:
            assert all(s < 400 for s in step.statuses), (step.command, step.statuses, step.stdout[:500])
        if step.command.startswith("curl") and "-o " not in step.command:
            try:
                step.json()  # everything the tour prints is JSON
            except ValueError:
                pytest.fail(f"not JSON: {step.command}\n{step.stdout[:500]!r}")

    def one(piece: str, *, last: bool = False) -> Step:
        """The (first or last) step that prints an answer and whose command holds `piece`."""
        found = [s for s in results if piece in s.command and s.command.startswith("curl")]
        assert found, piece
        return found[-1] if last else found[0]

    checks: dict[str, Callable[[Any], bool]] = {
        "regions/search?q=shuyang": lambda d: any(r["code"] == "321322" for r in d),
        "regions?parent=321322&limit=5": lambda d: len(d["items"]) == 5,
        "regions/321322115": lambda d: d["code"] == "321322115",
        'category=flower"': lambda d: (
            d["code"] == "unknown_filter_value" and {"flowers", "flowers.seedlings"} <= set(d["allowed"])
        ),
        "mentors?province=32": lambda d: d["code"] == "unknown_query_parameter" and "region" in d["accepted"],
        "mentors?region=53": lambda d: d["items"] == [],
        "mentors/999999": lambda d: d["code"] == "not_found" and d["title"] == "Not found",
        "/categories": lambda d: any(c["code"] == "flowers.seedlings" for c in d),
        "/vocabularies": lambda d: "too_far" in {r["code"] for r in d["reject_reasons"]},
        "auth/register": lambda d: d["role"] == "newcomer",
        '-d \'{"name":"李大姐"': lambda d: d["region_code"] == "371721121",
        "recommendations?k=5": lambda d: len(d) == 5 and d[0]["mentor"]["id"] == demo.mentor_id,
        "matching-runs/$RUN": lambda d: d["status"] == "done" and d["counts"]["proposals"] > 0,
        "/approve": lambda d: (
            d["status"] == "approved"
            and (d["mentor"]["id"], d["newcomer"]["id"]) == (demo.mentor_id, demo.newcomer_id)
        ),
        "活体植物运输距离太长": lambda d: d["status"] == "rejected",
        'accept -H "$MENTOR_AUTH"': lambda d: d["status"] == "active",
        "check-ins": lambda d: d["outcome"] == "done" and d["party"] == "newcomer",
        "$API/me/matches": lambda d: [m["id"] for m in d["items"] if m["status"] == "active"] != [],
        '-H "$NEWCOMER_AUTH" $API/me/notifications': lambda d: (
            {"proposal_approved", "match_active"} <= {n["kind"] for n in d["items"]}
        ),
        '-H "$MENTOR_AUTH" "$API/me/notifications': lambda d: len(d["items"]) > 0,
        "$API/imports/$PREVIEW/rows": lambda d: len(d["items"]) == 5,
        "errors?severity=error": lambda d: all(i["severity"] == "error" for i in d["items"]),
        "$API/imports/$IMPORT ": lambda d: (
            d["status"] == "done" and (d["counts"]["created"], d["counts"]["rejected"]) == (3, 2)
        ),
        "$API/imports/$AGAIN": lambda d: (d["counts"]["unchanged"], d["counts"]["rejected"]) == (3, 2),
    }
    for piece, check in checks.items():
        step = one(piece, last=piece == "$API/imports/$AGAIN")
        assert check(step.json()), (piece, step.stdout[:800])

    queue = one("proposals?status=proposed&sort=-score&limit=5").json()["items"]
    scores = [p["score"] for p in queue]
    assert len(queue) == 5 and scores == sorted(scores, reverse=True)
    first = one('category=flowers&limit=5"').json()
    second = one("&cursor=$CURSOR").json()
    assert len(first["items"]) == 5 and first["next_cursor"] and second["items"]
    assert not {m["id"] for m in first["items"]} & {m["id"] for m in second["items"]}
    assert one('"$API/mentors?region=53"').json()["items"] == []

    replay = one("-s -D -")
    assert re.search(r"^idempotent-replayed: true\r?$", replay.stdout, flags=re.IGNORECASE | re.MULTILINE)
    assert replay.statuses == [202] and replay.json()["status"] == "done"
    assert re.search(r"^location: /api/v1/imports/\d+\r?$", replay.stdout, flags=re.IGNORECASE | re.MULTILINE)
    report = (tmp_path / "errors.csv").read_bytes()
    assert report.startswith(b"\xef\xbb\xbf") and "年销售额（万元）" in report.decode("utf-8-sig")
