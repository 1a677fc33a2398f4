"""Vareon identity: users, roles and permissions, refresh sessions, and the signing keys."""
