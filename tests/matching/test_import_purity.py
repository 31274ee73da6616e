"""`import matching` must stay free of the web stack."""

import subprocess
import sys


def test_import_matching_loads_neither_fastapi_nor_sqlalchemy() -> None:
    code = (
        "import sys, matching, matching.synthetic; from matching import *; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('fastapi', 'sqlalchemy', 'faiss')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_vocabularies_and_taxonomy_load_without_the_numeric_stack():
    """The importer and the API schemas only need these; they must not drag in scikit-learn."""
    code = (
        "import sys; import matching.vocab, matching.taxonomy, matching; "
        "heavy = [m for m in ('sklearn', 'scipy', 'ortools', 'faiss') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_no_export_is_shadowed_by_a_submodule() -> None:
    """A lazily loaded export named like a submodule would be replaced by the module once it is imported."""
    import pkgutil

    import matching

    submodules = {m.name for m in pkgutil.iter_modules(matching.__path__)}
    assert (set(matching.__all__) - {"taxonomy", "vocab"}) & submodules == set()


def test_the_distributed_driver_loads_neither_fastapi_nor_sqlalchemy() -> None:
    """matching.distributed runs on Dask workers, which have no database or web stack to offer."""
    code = (
        "import sys, matching.distributed; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('fastapi', 'sqlalchemy', 'app')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
