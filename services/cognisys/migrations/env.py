from vareon_chassis.migrations import run_migrations
from vareon_cognisys.models import metadata
from vareon_cognisys.settings import CognisysSettings

run_migrations(metadata, CognisysSettings().database_url)
