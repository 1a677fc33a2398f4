"""The embedded Vareon runtime and the `vareon` CLI."""
