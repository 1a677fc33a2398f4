from vareon_chassis.migrations import run_migrations
from vareon_wallet.models import metadata
from vareon_wallet.settings import WalletSettings

run_migrations(metadata, WalletSettings().database_url)
