"""`import matching` must stay free of the web stack."""

import subprocess
import sys


def test_import_matching_loads_neither_fastapi_nor_sqlalchemy() -> None:
    code = (
        "import sys, matching, matching.synthetic; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('fastapi', 'sqlalchemy', 'faiss')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
