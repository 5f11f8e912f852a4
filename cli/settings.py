"""Settings for a command: a bad variable is a one-line error and exit 1, not a traceback."""

from __future__ import annotations

import click

from config import ConfigError, Settings, load_settings


def load() -> Settings:
    """The settings from the environment, or a click error naming the bad variable."""
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
