"""Encryption at rest of what would hurt most in a leaked dump or backup: photos, face encodings, GPS places.

AES-256-GCM (`cryptography`), one envelope for every sealed value:

    b"HWD" | version (1 byte) | key id (4 bytes) | nonce (12 bytes) | ciphertext | tag (16 bytes)

The key id (the first 4 bytes of a hash of the key) says which key opens it,
so a rotation can run while both keys are readable; the header, the value's
purpose ("photo", "face-encoding", ...) and, from version 2, the id of the
record that holds it are authenticated, so a sealed value cannot be moved to
another use, nor copied into another record (another sighting's place,
another photo's face), unnoticed.

Values stored before encryption existed have no envelope, and values sealed
before version 2 name no record. The start-up migration `seal_every_value`
(storage/sealing_migration.py) seals and binds all of them once per database; from
then on (`Keyring.all_sealed`) an unsealed value, or an unbound one where a
record is named, is refused: someone with write access to the database
could otherwise plant plain coordinates or encodings, or old sealed ones.

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
VERSION = 2  # the record's id is authenticated with the header and purpose
UNBOUND = 1  # sealed before values were bound to their records: opened until the start-up migration re-sealed them
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


def is_bound(blob: bytes) -> bool:
    """Sealed bound to a record (envelope version 2): written by this version, never by an older one."""
    return is_sealed(blob) and blob[_VERSION_AT] == VERSION


class Keyring:
    """The data keys of this process: the first seals, all open."""

    def __init__(self, keys: DataKeys) -> None:
        self._lock = threading.Lock()
        self._use(keys)
        self.all_sealed = False  # set once the database says every value is sealed and bound (sealing_migration)

    @property
    def current_id(self) -> bytes:
        return self._current

    def seal(self, plain: bytes, purpose: bytes, record: str | None = None) -> bytes:
        """`plain` sealed for `purpose`, bound to `record` (the id of the document that will hold it) when given."""
        self._follow_file()
        header = MAGIC + bytes([UNBOUND if record is None else VERSION]) + self._current
        nonce = os.urandom(NONCE_BYTES)
        return header + nonce + self._ciphers[self._current].encrypt(nonce, plain, _bound(header, purpose, record))

    def open(self, blob: bytes, purpose: bytes, record: str | None = None) -> bytes:
        """The plain value of a value sealed for `purpose` (and `record`); raise SealError when it cannot be trusted.

        A value stored before encryption (no envelope), or sealed before values named their record, is read
        as it is until the start-up migration has sealed and bound every one; after, it is refused.
        """
        if not is_sealed(blob):
            return self.unsealed(blob, purpose)
        header = blob[:_KEY_ID_END]
        version = header[_VERSION_AT]
        if version == UNBOUND and record is not None and self.all_sealed:
            raise SealError(
                f"a sealed {purpose.decode()} of record {record} names no record, though every one was bound at "
                "start-up: it was copied in from an older backup or written around Homeward"
            )
        cipher = self._ciphers.get(header[_VERSION_AT + 1 :])
        if cipher is None:
            cipher = self._missing(header)
        bound = _bound(header, purpose, record if version == VERSION else None)
        try:
            return cipher.decrypt(blob[_KEY_ID_END:HEADER_BYTES], blob[HEADER_BYTES:], bound)
        except InvalidTag:
            elsewhere = f" (or for another record than {record}: copied from another document)" if record else ""
            raise SealError(f"a sealed {purpose.decode()} was altered, or sealed for another use{elsewhere}") from None

    def unsealed(self, blob: bytes, purpose: bytes) -> bytes:
        """A value stored before encryption: as it is, until the start-up migration sealed every one; then refused."""
        if self.all_sealed:
            raise SealError(
                f"an unsealed {purpose.decode()} where a sealed one is expected: every stored value was sealed at "
                "start-up (migration seal_every_value), so this one was written around Homeward"
            )
        return bytes(blob)

    def _missing(self, header: bytes) -> AESGCM:
        """The cipher for a header whose key this process lacks: the key file may have changed, else say which."""
        if header[_VERSION_AT] not in (UNBOUND, VERSION):
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

    def is_current(self, blob: bytes, bound: bool = False) -> bool:
        """Sealed under the key that seals now (and, if `bound`, bound to its record): nothing for a rotation to do."""
        under_current = is_sealed(blob) and blob[_VERSION_AT + 1 : _KEY_ID_END] == self._current
        return under_current and (not bound or blob[_VERSION_AT] == VERSION)

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


def _bound(header: bytes, purpose: bytes, record: str | None) -> bytes:
    """The associated data: the header, the purpose and, when bound, the record's id."""
    return header + purpose + (b"" if record is None else b"\x00" + record.encode())


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
