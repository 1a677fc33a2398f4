"""How compose names a password it never holds: an interpolation of an environment variable."""

from __future__ import annotations


def password_ref(principal: str, what: str) -> str:
    """A compose interpolation that refuses to start without the variable."""
    variable = f"VAREON_{principal.upper()}_{what}_PASSWORD"
    return f"${{{variable}:?set {variable}}}"
