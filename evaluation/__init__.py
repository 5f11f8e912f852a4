"""Accuracy evaluation of the service's own face pipeline (a benchmark, not a test): `python -m admin.cli eval --help`."""
