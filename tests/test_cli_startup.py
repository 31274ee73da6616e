"""The operator CLI starts without the matching stack (scikit-learn, SciPy, OR-Tools)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("sklearn", "scipy", "ortools")
PROBE = """
import sys
from app.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
print("loaded:" + ",".join(m for m in {heavy!r} if m in sys.modules))
"""


@pytest.mark.parametrize("argv", [["--help"], ["import", "--help"], ["create-account", "--help"]])
def test_help_loads_no_matching_stack(argv):
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv, heavy=HEAVY)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert "usage:" in out.stdout
    assert out.stdout.splitlines()[-1] == "loaded:"


def test_the_probe_sees_a_heavy_import():
    probe = "import sys, matching; matching.propose; print(','.join(m for m in %r if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", probe % (HEAVY,)], capture_output=True, text=True, check=True, timeout=120
    )
    assert "sklearn" in out.stdout
