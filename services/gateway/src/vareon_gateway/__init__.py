"""vareon_gateway: the one HTTP entry in front of every Vareon service."""
