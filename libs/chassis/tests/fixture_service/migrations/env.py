import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import metadata  # noqa: E402

from vareon_chassis.migrations import run_migrations  # noqa: E402

run_migrations(metadata, default_url="")
