"""`python -m admin.cli COMMAND` still works: an alias for `homeward COMMAND`, which lives in cli/."""

from __future__ import annotations

from cli.main import group

__all__ = ["group"]

if __name__ == "__main__":
    group()
