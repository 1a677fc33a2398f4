"""vareon_chassis: what every Vareon service needs, written once."""
