import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import metadata
from vareon_chassis.migrations import run_migrations

run_migrations(metadata, default_url="")
