from vareon_chassis.migrations import run_migrations
from vareon_neosyntis.models import metadata
from vareon_neosyntis.settings import NeosyntisSettings

run_migrations(metadata, NeosyntisSettings().database_url)
