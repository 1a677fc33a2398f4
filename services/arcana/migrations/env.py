import vareon_arcana.scenarios.models  # noqa: F401  (its tables join the metadata)
from vareon_arcana.models import metadata
from vareon_arcana.settings import ArcanaSettings
from vareon_chassis.migrations import run_migrations

run_migrations(metadata, ArcanaSettings().database_url)
