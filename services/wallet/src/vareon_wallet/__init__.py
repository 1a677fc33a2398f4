"""vareon_wallet: wallets, a double-entry ledger in integer micro-credits, holds."""
