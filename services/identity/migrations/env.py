from vareon_chassis.migrations import run_migrations
from vareon_identity.models import metadata
from vareon_identity.settings import IdentitySettings

run_migrations(metadata, IdentitySettings().database_url)
