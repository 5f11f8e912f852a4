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
    quiet_libraries()
    return settings


# Libraries that log what they send: pymongo its commands with their documents (DEBUG), Twilio its request
# bodies with the phone numbers (INFO), httpx the URL with the Telegram bot token in it (INFO), python-telegram-bot
# the chat ids and texts (DEBUG). They log warnings and errors only, whatever HOMEWARD_LOG_LEVEL says.
CHATTY_LIBRARIES = ("pymongo", "twilio", "httpx", "httpcore", "telegram")


def quiet_libraries() -> None:
    for library in CHATTY_LIBRARIES:
        logging.getLogger(library).setLevel(logging.WARNING)
