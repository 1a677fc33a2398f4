import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "fixture_service"))
FIXTURE_INI = HERE / "fixture_service" / "alembic.ini"


@pytest.fixture
async def fixture_db(infrastructure):
    return await infrastructure.migrated_database("chassis", FIXTURE_INI)
