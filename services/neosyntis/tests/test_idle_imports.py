"""The API process starts without the data libraries (issue 24: <= 80 MB PSS idle): pandas,
numpy, pyarrow and scikit-learn load where a dataset is read (the reader processes) or a
model trained (the worker, its own process, loads them at start)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("pandas", "numpy", "pyarrow", "sklearn", "scipy")


def test_the_app_imports_no_data_library():
    probe = (
        "import sys, vareon_neosyntis.app\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    assert loaded == []
