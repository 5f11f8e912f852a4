"""Typed reads of raw environment values (`Env`), each failing with a message that names the variable.

config/settings.py turns them into Settings; this is the layer under it: a value, its default from
config/declared.py, or the file `NAME_FILE` names (secrets kept as files), checked for its type and range.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from config.declared import SETTINGS
from config.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Defaults in parentheses in config/declared.py describe behaviour, not values: they read as unset.
_NO_VALUE = {"(embedded)", "(generated)", "(engine)", "(off)"}


class Env:
    """Typed reads of the environment that fail naming the variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self._defaults = {s.name: s.default for s in SETTINGS}

    def optional(self, name: str, check: Callable[[str, str], None] | None = None) -> str | None:
        value = self._raw(name)
        if not value or value in _NO_VALUE:
            return None
        if check:
            check(name, value)
        return value

    def text(self, name: str) -> str:
        value = self._raw(name)
        if not value:
            raise ConfigError(f"{name} must not be empty")
        return value

    def path(self, name: str) -> Path:
        """A path; a relative one is taken from the project root, wherever the command runs."""
        return (PROJECT_ROOT / Path(self.text(name)).expanduser()).resolve()

    def integer(self, name: str, low: int, high: int) -> int:
        value = self.text(name)
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number from {low} to {high}, got {value!r}") from None
        if not low <= number <= high:
            raise ConfigError(f"{name} must be from {low} to {high}, got {number}")
        return number

    def number(self, name: str, low: float, high: float) -> float:
        value = self.text(name)
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"{name} must be a number from {low} to {high}, got {value!r}") from None
        if not low <= number <= high:
            raise ConfigError(f"{name} must be from {low} to {high}, got {number}")
        return number

    def choice(self, name: str, options: tuple[str, ...]) -> str:
        value = self.text(name).upper()
        if value not in options:
            raise ConfigError(f"{name} must be one of {', '.join(options)}, got {value!r}")
        return value

    def _raw(self, name: str) -> str | None:
        if name in self._environ:
            return self._environ[name].strip()
        file_name = self._environ.get(f"{name}_FILE")
        if file_name:
            try:
                return Path(file_name).read_text().strip()
            except OSError as exc:
                raise ConfigError(f"{name}_FILE names {file_name!r}, which cannot be read: {exc.strerror}") from None
        return self._defaults.get(name)


def check_prefix(*prefixes: str) -> Callable[[str, str], None]:
    def check(name: str, value: str) -> None:
        if not value.startswith(prefixes):
            raise ConfigError(f"{name} must start with {' or '.join(prefixes)}")

    return check


def check_min_length(length: int) -> Callable[[str, str], None]:
    def check(name: str, value: str) -> None:
        if len(value) < length:
            raise ConfigError(f"{name} must be at least {length} characters long")

    return check
