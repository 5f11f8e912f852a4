"""The one error a bad setting raises; its message names the variable."""


class ConfigError(Exception):
    """A setting is missing or malformed; the message says which and how to fix it."""
