import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def pg_tmp() -> Iterator[Path]:
    """A temporary directory for an embedded PostgreSQL data dir.

    The server runs as its own system user, and pytest resets its tmp root to 0700 whenever
    another pytest session starts on the machine: keep PostgreSQL's data out of it.
    """
    with tempfile.TemporaryDirectory(prefix="vareon-local-test-") as tmp:
        yield Path(tmp)
