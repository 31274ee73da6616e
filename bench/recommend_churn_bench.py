""" "Mentors for me" throughput with and without a mentor editing their story every 0.5 s, in one run.

    .venv/bin/python -m bench.recommend_churn_bench [--seconds 20] [--rounds 2] [--concurrency 4]
        [--edit-every 0.5] [--database-url URL]

Seeds a throwaway database with the demo set (2,000 mentors, 10,000 newcomers; SQLite by default, or the
given URL, seeded if empty), serves the app with one uvicorn process on loopback, and counts successful
`GET /api/v1/newcomers/{id}/recommendations?k=5` calls (random newcomers, `--concurrency` clients)
per phase. Phases alternate, quiet then churn, `--rounds` times; in a churn phase the demo mentor
PATCHes their own story every `--edit-every` seconds. Prints each phase, the ratio churn / quiet per
round and overall (the target is >= 0.80), and what the edits cost.
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time

import httpx

from bench._server import seeded_app

QUIET, CHURN = "quiet", "churn"


def token(base: str, username: str) -> str:
    """An access token for a demo account."""
    r = httpx.post(f"{base}/api/v1/auth/token", data={"username": username, "password": "jieduan-demo"})
    r.raise_for_status()
    return str(r.json()["access_token"])


def newcomer_ids(base: str, headers: dict[str, str], pages: int = 5) -> list[int]:
    """A few hundred newcomer ids to ask recommendations for."""
    ids: list[int] = []
    cursor = None
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for _ in range(pages):
            params: dict[str, str | int] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = client.get("/api/v1/newcomers", params=params).json()
            ids += [item["id"] for item in page["items"]]
            cursor = page.get("next_cursor")
            if not cursor:
                break
    return ids


def recommendations(base: str, headers: dict[str, str], ids: list[int], seconds: float, clients: int) -> int:
    """Successful recommendation calls by `clients` threads in `seconds`."""
    deadline = time.monotonic() + seconds
    counts = [0] * clients

    def client_loop(i: int) -> None:
        rng = random.Random(i)
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            while time.monotonic() < deadline:
                r = client.get(f"/api/v1/newcomers/{rng.choice(ids)}/recommendations", params={"k": 5})
                r.raise_for_status()
                counts[i] += 1

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts)


class StoryEditor:
    """The demo mentor editing their own story every `every` seconds, with the ETag of each answer."""

    def __init__(self, base: str, headers: dict[str, str], every: float) -> None:
        self.client = httpx.Client(base_url=base, headers=headers, timeout=60)
        profile = self.client.get("/api/v1/me/mentor-profile")
        profile.raise_for_status()
        self.path = f"/api/v1/mentors/{profile.json()['id']}"
        self.etag = profile.headers["etag"]
        self.every = every
        self.edits: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        n = 0
        due = time.monotonic()
        # A fixed cadence: the next edit is due `every` seconds after the last was due, however long it took.
        while not self._stop.wait(max(0.0, due + self.every - time.monotonic())):
            due += self.every
            n += 1
            started = time.perf_counter()
            r = self.client.patch(
                self.path, json={"story": f"第{n}次修改：今年主推盆景和多肉"}, headers={"If-Match": self.etag}
            )
            r.raise_for_status()
            self.etag = r.headers["etag"]
            self.edits.append((time.perf_counter() - started) * 1000)

    def __enter__(self) -> StoryEditor:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--edit-every", type=float, default=0.5)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    with seeded_app(args.database_url) as (url, base):
        admin = {"Authorization": f"Bearer {token(base, 'admin')}"}
        mentor = {"Authorization": f"Bearer {token(base, '13800000001')}"}
        ids = newcomer_ids(base, admin)
        editor = StoryEditor(base, mentor, args.edit_every)
        recommendations(base, admin, ids, 3.0, args.concurrency)  # warm-up: the first index is built here
        print(
            f"database: {url.split(':')[0]}, {len(ids)} newcomers asked about, {args.concurrency} clients, "
            f"{args.seconds:g} s per phase, churn: one story edit every {args.edit_every:g} s"
        )
        results: dict[str, list[int]] = {QUIET: [], CHURN: []}
        for round_no in range(1, args.rounds + 1):
            quiet = recommendations(base, admin, ids, args.seconds, args.concurrency)
            results[QUIET].append(quiet)
            edits_before = len(editor.edits)
            with editor:
                churn = recommendations(base, admin, ids, args.seconds, args.concurrency)
            results[CHURN].append(churn)
            print(
                f"round {round_no}: quiet {quiet} requests, churn {churn} requests "
                f"({len(editor.edits) - edits_before} edits), churn / quiet = {churn / max(quiet, 1):.2f}"
            )
        total_quiet, total_churn = sum(results[QUIET]), sum(results[CHURN])
        ratios = [c / max(q, 1) for q, c in zip(results[QUIET], results[CHURN], strict=True)]
        overall = total_churn / max(total_quiet, 1)
        print(
            f"total: quiet {total_quiet}, churn {total_churn}; churn / quiet = {overall:.2f}"
            f" (median of rounds {statistics.median(ratios):.2f}; target >= 0.80)"
        )
        if editor.edits:
            print(f"story edit p50: {statistics.median(editor.edits):.1f} ms over {len(editor.edits)} edits")
        editor.client.close()


if __name__ == "__main__":
    main()
