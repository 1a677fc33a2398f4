from vareon_chassis.migrations import run_migrations
from vareon_neosyntis.settings import NeosyntisSettings
from vareon_neosyntis.tables import metadata

run_migrations(metadata, NeosyntisSettings().database_url)
