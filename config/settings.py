"""Every setting Homeward reads, and the only code that reads the environment.

Each setting is declared once in SETTINGS (name, default, meaning); the README
table is generated from that list, so the two cannot drift apart. A bad value
stops the start with a message that names the variable. Secrets may also come
from a file: `NAME_FILE=/run/secrets/x` is read when `NAME` itself is unset.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from config.errors import ConfigError


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    meaning: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("HOMEWARD_DATA_DIR", "./var", "Where embedded servers keep their data, plus the generated secret key and run state."),
    Setting("PORT", "8000", "Port of the web process (admin panel, webhooks, simulator, /healthz)."),
    Setting("HOST", "127.0.0.1", "Address the web process binds to; 0.0.0.0 to accept outside connections."),
    Setting("MONGODB_URI", "(embedded)", "MongoDB connection string. Unset: start the embedded SecantusDB server under the data dir and connect over the wire.", secret=True),
    Setting("MONGODB_DATABASE", "homeward", "Database name inside MONGODB_URI."),
    Setting("REDIS_URL", "(embedded)", "Redis connection URL for the RQ queues. Unset: start the embedded valkey server (append-only file on) under the data dir.", secret=True),
    Setting("HOMEWARD_SECRET_KEY", "(generated)", "Signs sessions and CSRF tokens. Unset: generated once and kept in the data dir.", secret=True),
    Setting("HOMEWARD_ADMIN_PASSWORD", "(generated)", "Password of the `admin` account created on first start. Unset on first start: generated and printed once.", secret=True),
    Setting("HOMEWARD_WORKERS", "1", "How many worker processes `make run` starts."),
    Setting("HOMEWARD_MAX_PHOTO_MB", "15", "Largest photo file accepted, in megabytes."),
    Setting("HOMEWARD_MAX_PHOTO_MEGAPIXELS", "40", "Largest photo accepted, in megapixels (guards against decompression bombs)."),
    Setting("HOMEWARD_FACES_DIR", "../shared/faces", "Labelled face photos used by tests and benchmarks (never copied into the repository)."),
    Setting("HOMEWARD_LOG_LEVEL", "INFO", "Logging level: DEBUG, INFO, WARNING or ERROR."),
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The defaults above in parentheses describe behaviour, not values.
_NO_VALUE = {"(embedded)", "(generated)"}


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    port: int
    host: str
    mongodb_uri: str | None
    mongodb_database: str
    redis_url: str | None
    secret_key: str
    admin_password: str | None
    workers: int
    max_photo_bytes: int
    max_photo_pixels: int
    faces_dir: Path
    log_level: str

    @property
    def run_dir(self) -> Path:
        """Where `make run` records the embedded servers it started."""
        return self.data_dir / "run"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and check every setting; raise ConfigError naming the first bad one."""
    env = _Env(os.environ if environ is None else environ)
    data_dir = env.path("HOMEWARD_DATA_DIR")
    return Settings(
        data_dir=data_dir,
        port=env.integer("PORT", 1, 65535),
        host=env.text("HOST"),
        mongodb_uri=env.optional("MONGODB_URI", _check_prefix("mongodb://", "mongodb+srv://")),
        mongodb_database=env.text("MONGODB_DATABASE"),
        redis_url=env.optional("REDIS_URL", _check_prefix("redis://", "rediss://", "unix://")),
        secret_key=env.optional("HOMEWARD_SECRET_KEY") or _kept_secret_key(data_dir),
        admin_password=env.optional("HOMEWARD_ADMIN_PASSWORD", _check_min_length(10)),
        workers=env.integer("HOMEWARD_WORKERS", 1, 16),
        max_photo_bytes=env.integer("HOMEWARD_MAX_PHOTO_MB", 1, 100) * 1024 * 1024,
        max_photo_pixels=env.integer("HOMEWARD_MAX_PHOTO_MEGAPIXELS", 1, 200) * 1_000_000,
        faces_dir=env.path("HOMEWARD_FACES_DIR"),
        log_level=env.choice("HOMEWARD_LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR")),
    )


def settings_table() -> str:
    """The README's configuration table, in Markdown."""
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    rows += [f"| `{s.name}` | `{s.default}` | {s.meaning} |" for s in SETTINGS]
    return "\n".join(rows)


class _Env:
    """Typed reads of the environment that fail naming the variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self._defaults = {s.name: s.default for s in SETTINGS}

    def optional(self, name: str, check: Callable[[str, str], None] | None = None) -> str | None:
        value = self._raw(name)
        if value is None or value in _NO_VALUE:
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


def _check_prefix(*prefixes: str) -> Callable[[str, str], None]:
    def check(name: str, value: str) -> None:
        if not value.startswith(prefixes):
            raise ConfigError(f"{name} must start with {' or '.join(prefixes)}")

    return check


def _check_min_length(length: int) -> Callable[[str, str], None]:
    def check(name: str, value: str) -> None:
        if len(value) < length:
            raise ConfigError(f"{name} must be at least {length} characters long")

    return check


def _kept_secret_key(data_dir: Path) -> str:
    """Generate the secret key once and keep it, so sessions survive restarts."""
    path = data_dir / "secret_key"
    try:
        if path.exists():
            return path.read_text().strip()
        data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        return key
    except FileExistsError:
        # Another process of this start wrote it first; use theirs.
        return path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"HOMEWARD_DATA_DIR ({data_dir}) is not writable: {exc.strerror}") from None
