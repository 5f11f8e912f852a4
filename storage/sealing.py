"""Encryption at rest of what would hurt most in a leaked dump or backup: photos, face encodings, GPS places.

AES-256-GCM (`cryptography`), one envelope for every sealed value:

    b"HWD" | version (1 byte) | key id (4 bytes) | nonce (12 bytes) | ciphertext | tag (16 bytes)

The key id (the first 4 bytes of a hash of the key) says which key opens it,
so a rotation can run while both keys are readable; the header and the
value's purpose ("photo", "face-encoding", ...) are authenticated, so a
sealed value cannot be moved to another use unnoticed. Values stored before
encryption existed have no envelope and are read as they are.

One keyring per process, installed when the connections are opened. When it
came from the data dir's key file, it follows that file: `homeward rotate-key`
writes a new first key there and running processes pick it up on their next
write, or on the first value they meet that is sealed under a key they lack.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from config.keys import DataKeys, parse_keys

MAGIC = b"HWD"
VERSION = 1
KEY_ID_BYTES = 4
NONCE_BYTES = 12
HEADER_BYTES = len(MAGIC) + 1 + KEY_ID_BYTES + NONCE_BYTES
OVERHEAD = HEADER_BYTES + 16  # what sealing adds to a value's length
_VERSION_AT = len(MAGIC)
_KEY_ID_END = _VERSION_AT + 1 + KEY_ID_BYTES

PHOTO = b"photo"
FACE_ENCODING = b"face-encoding"
PHOTO_LOCATION = b"photo-location"
SIGHTING_PLACE = b"sighting-place"
AUDIT_LABEL = b"homeward audit chain v1"  # the HKDF label of the audit key: never the same bytes as a sealing key


class SealError(Exception):
    """A sealed value cannot be opened: its key is missing, or it was altered."""


def key_id(key: bytes) -> bytes:
    return hashlib.sha256(b"homeward data key id\x00" + key).digest()[:KEY_ID_BYTES]


def audit_key(data_key: bytes) -> bytes:
    """The key that signs audit entries (HMAC-SHA256), derived from a data key under a label of its own.

    Derived rather than kept apart: the data key already lives outside MongoDB (data dir or environment),
    is in every backup plan and is reloaded by running processes when `homeward rotate-key` changes it, so the
    audit key needs no setting, file or backup of its own; the label keeps it from ever equalling a sealing key.
    """
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=AUDIT_LABEL).derive(data_key)


def is_sealed(blob: bytes) -> bool:
    return len(blob) >= OVERHEAD and blob[: len(MAGIC)] == MAGIC


class Keyring:
    """The data keys of this process: the first seals, all open."""

    def __init__(self, keys: DataKeys) -> None:
        self._lock = threading.Lock()
        self._use(keys)

    @property
    def current_id(self) -> bytes:
        return self._current

    def seal(self, plain: bytes, purpose: bytes) -> bytes:
        self._follow_file()
        header = MAGIC + bytes([VERSION]) + self._current
        nonce = os.urandom(NONCE_BYTES)
        return header + nonce + self._ciphers[self._current].encrypt(nonce, plain, header + purpose)

    def open(self, blob: bytes, purpose: bytes) -> bytes:
        """The plain value; a value stored before encryption (no envelope) comes back as it is."""
        if not is_sealed(blob):
            return bytes(blob)
        header = blob[:_KEY_ID_END]
        cipher = self._ciphers.get(header[_VERSION_AT + 1 :])
        if cipher is None:
            cipher = self._missing(header)
        try:
            return cipher.decrypt(blob[_KEY_ID_END:HEADER_BYTES], blob[HEADER_BYTES:], header + purpose)
        except InvalidTag:
            raise SealError(f"a sealed {purpose.decode()} was altered, or sealed for another use") from None

    def _missing(self, header: bytes) -> AESGCM:
        """The cipher for a header whose key this process lacks: the key file may have changed, else say which."""
        if header[_VERSION_AT] != VERSION:
            raise SealError(f"sealed with envelope version {header[_VERSION_AT]}, which this version cannot read")
        kid = bytes(header[_VERSION_AT + 1 :])
        if self._follow_file() and kid in self._ciphers:
            return self._ciphers[kid]
        raise SealError(
            f"sealed under data key {kid.hex()}, which is not among this process's keys: "
            "list that key after the current one in HOMEWARD_DATA_KEY (or restore the data dir's data_keys file)"
        )

    def audit_key_id(self) -> str:
        """The id (hex) of the data key whose audit key signs new audit entries."""
        self._follow_file()
        return self._current.hex()

    def audit_mac(self, kid: str, message: bytes) -> str | None:
        """HMAC-SHA256 of `message` under the audit key of data key `kid`; None when that key is not listed."""
        key = self._audit_keys.get(kid)
        if key is None and self._follow_file():
            key = self._audit_keys.get(kid)
        return hmac.new(key, message, hashlib.sha256).hexdigest() if key is not None else None

    def is_current(self, blob: bytes) -> bool:
        """Sealed under the key that seals now: nothing for a rotation to do."""
        return is_sealed(blob) and blob[_VERSION_AT + 1 : _KEY_ID_END] == self._current

    def _use(self, keys: DataKeys) -> None:
        self._ciphers = {key_id(key): AESGCM(key) for key in keys.keys}
        self._audit_keys = {key_id(key).hex(): audit_key(key) for key in keys.keys}
        self._current = key_id(keys.keys[0])
        self._file = keys.file
        self._stamp = self._file_stamp()

    def _follow_file(self) -> bool:
        """Reload the keys when their file changed (a rotation began or ended); whether it did."""
        if self._file is None:
            return False
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return False
        with self._lock:
            if stamp != self._stamp:
                assert self._file is not None
                self._use(DataKeys(parse_keys(self._file.read_text(), str(self._file)), self._file))
        return True

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            status = os.stat(self._file) if self._file else None
        except FileNotFoundError:
            return self._stamp if hasattr(self, "_stamp") else None
        return (status.st_mtime_ns, status.st_ino) if status else None


_installed: Keyring | None = None


def use_keys(keys: DataKeys) -> Keyring:
    """Make these the process's data keys (the connections do it at start-up); the keyring they form."""
    global _installed  # one keyring per process, like its connections
    _installed = Keyring(keys)
    return _installed


def keyring() -> Keyring:
    """The process's keyring; a process that opened no connections reads the keys its settings name."""
    if _installed is None:
        from config import load_settings  # noqa: PLC0415 - only when nothing was installed

        return use_keys(load_settings().data_keys())
    return _installed
