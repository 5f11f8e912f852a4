"""How every Homeward process starts: settings checked (or a named error and exit 2), logging set up."""

from __future__ import annotations

import logging
import sys

from config.errors import ConfigError
from config.settings import Settings, load_settings


def start_process(name: str) -> Settings:
    """Settings for the process `name` (web, worker, polling, homeward); exits naming a bad variable."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    logging.basicConfig(level=settings.log_level, format=f"%(asctime)s {name} %(levelname)s %(name)s: %(message)s")
    return settings
