"""Accuracy evaluation of the service's own face pipeline (a benchmark, not a test): `homeward eval --help`."""
