"""CPU cost of starting the operator CLI, against the cost of importing the matching stack.

    .venv/bin/python -m bench.cli_bench [--runs 5]

Each case runs in a fresh interpreter; the figure is the median CPU time (user + system) of the child.
The floor is a bare interpreter, the peer the matching stack alone, both measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

CLI = "from app.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"
CASES = {
    "python -c pass (floor)": ["-c", "pass"],
    "jieduan --help": ["-c", CLI.format(argv=["--help"])],
    "jieduan import --help": ["-c", CLI.format(argv=["import", "--help"])],
    "import the matching stack (peer)": ["-c", "import matching; matching.propose; matching.LearnedRanker"],
}


def cpu_seconds(args: list[str]) -> float:
    """CPU time of one child interpreter running `args`."""
    before = os.times()
    subprocess.run([sys.executable, *args], check=True, stdout=subprocess.DEVNULL)
    after = os.times()
    return (after.children_user - before.children_user) + (after.children_system - before.children_system)


def main() -> None:
    """Print the median CPU seconds of each case and its ratio to the matching-stack peer."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    medians = {
        name: statistics.median(cpu_seconds(args) for _ in range(runs)) for name, args in CASES.items()
    }
    peer = medians["import the matching stack (peer)"]
    print(f"| case | CPU s (median of {runs}) | ratio to the matching stack |")
    print("| --- | ---: | ---: |")
    for name, seconds in medians.items():
        print(f"| {name} | {seconds:.2f} | {seconds / peer:.2f} |")


if __name__ == "__main__":
    main()
