"""What the benches share (a package, so `make bench`, which runs bench/*.py, does not run it)."""
