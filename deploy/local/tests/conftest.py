import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from vareon_chassis.testing.plugin import scratch_dir


@pytest.fixture
def pg_tmp() -> Iterator[Path]:
    """A temporary directory for an embedded PostgreSQL data dir.

    The server runs as its own system user, and pytest resets its tmp root to 0700 whenever
    another pytest session starts on the machine: keep PostgreSQL's data out of it. It goes
    where the session's own server keeps its data (a memory file system when there is room):
    `vareon up` fsyncs every commit, checkpoint and migration of seven databases.
    """
    with tempfile.TemporaryDirectory(prefix="vareon-local-test-", dir=scratch_dir()) as tmp:
        yield Path(tmp)
