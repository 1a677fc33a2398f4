from vareon_chassis.migrations import run_migrations
from vareon_arcana.models import metadata
from vareon_arcana.settings import ArcanaSettings

run_migrations(metadata, ArcanaSettings().database_url)
