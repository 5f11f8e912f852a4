"""The data keys that encrypt photos and face encodings at rest: parsed, or generated once under the data dir.

A key is 32 random bytes written in base64. Several keys may be listed
(spaces or new lines between them): the first encrypts, the others are only
read, which is what a rotation needs while it moves everything to the first.
The settings (HOMEWARD_DATA_KEY / _FILE) take precedence; without them the
keys live in the data dir's `data_keys` file, readable by its owner only.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from config.errors import ConfigError

KEY_BYTES = 32  # AES-256
KEY_FILE_NAME = "data_keys"
NEW_KEY_HINT = "`openssl rand -base64 32`"


@dataclass(frozen=True)
class DataKeys:
    keys: tuple[bytes, ...]  # the first encrypts; all decrypt
    file: Path | None  # the generated key file they came from; None when they came from the settings


def parse_keys(text: str, name: str = "HOMEWARD_DATA_KEY") -> tuple[bytes, ...]:
    """Keys from their base64 text, first one first; a ConfigError names the setting and how to make a key."""
    keys = []
    for number, word in enumerate(text.split(), 1):
        try:
            key = base64.b64decode(word.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != KEY_BYTES:
            raise ConfigError(f"{name}: key {number} is not {KEY_BYTES} bytes in base64; make one with {NEW_KEY_HINT}")
        keys.append(key)
    if not keys:
        raise ConfigError(f"{name} is empty; make a key with {NEW_KEY_HINT}")
    return tuple(keys)


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def key_text(key: bytes) -> str:
    return base64.b64encode(key).decode()


def kept_keys(data_dir: Path) -> DataKeys:
    """The keys of the data dir's key file, generating a first key on the very first start."""
    path = data_dir / KEY_FILE_NAME
    try:
        if not path.exists():
            _create(path, (new_key(),))
        return DataKeys(parse_keys(path.read_text(), str(path)), path)
    except OSError as exc:
        raise ConfigError(f"HOMEWARD_DATA_DIR ({data_dir}) is not writable: {exc.strerror}") from None


def write_keys(path: Path, keys: tuple[bytes, ...]) -> None:
    """Replace the key file in one step (a reader sees the old file or the new, never half of one)."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    _write_private(temporary, keys)
    os.replace(temporary, path)


def _create(path: Path, keys: tuple[bytes, ...]) -> None:
    """Create the key file unless another process of this start already did (theirs is kept)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    _write_private(temporary, keys)
    try:
        os.link(temporary, path)  # atomic and refuses to overwrite: two starts at once keep one key
    except FileExistsError:
        pass
    finally:
        temporary.unlink()


def _write_private(path: Path, keys: tuple[bytes, ...]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(key_text(key) for key in keys) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
