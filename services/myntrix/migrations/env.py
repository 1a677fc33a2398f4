from vareon_chassis.migrations import run_migrations
from vareon_myntrix.models import metadata
from vareon_myntrix.settings import MyntrixSettings

run_migrations(metadata, MyntrixSettings().database_url)
