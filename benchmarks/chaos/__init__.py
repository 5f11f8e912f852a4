"""The chaos benchmark, `python -m benchmarks.chaos` or `make chaos`: see run.py for what it does."""

from __future__ import annotations

from benchmarks.chaos.run import main

__all__ = ["main"]
