"""The photos of a bulk import, from a ZIP read safely: nothing outside it, nothing that explodes.

A ZIP comes from outside (an organisation's export, maybe tampered with): a
name with `..` or an absolute name, a symlink, too many files, a file too big,
or one that expands far more than a photo does (a zip bomb) refuses the whole
archive with a message naming the limit. Files are read only when a row asks
for them, and never beyond the per-file limit, whatever the ZIP's header says.
"""

from __future__ import annotations

import io
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO


class UnsafeArchive(ValueError):
    """The archive is refused as a whole; the message names the file and the limit it broke."""


@dataclass(frozen=True)
class Limits:
    files: int = 20_000
    file_bytes: int = 25 * 1024 * 1024  # a phone's photo is a few MB
    total_bytes: int = 8 * 1024 * 1024 * 1024
    ratio: int = 100  # photos barely compress; zeros compress a thousandfold


def safe_name(name: str) -> str:
    """The member's name as a relative path; UnsafeArchive for one that leaves the archive."""
    posix = name.replace("\\", "/")
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":"):
        raise UnsafeArchive(f"{name!r} is an absolute path: a ZIP of photos holds only relative names")
    if ".." in PurePosixPath(posix).parts:
        raise UnsafeArchive(f"{name!r} points outside the archive (..): refused")
    return posix


def photo_key(name: str) -> str:
    """How a row's photo name meets a file: case-insensitive, `/` for any separator."""
    return name.replace("\\", "/").strip().lower()


class PhotoArchive:
    """A ZIP's photos by name, checked as a whole when opened."""

    def __init__(self, source: bytes | Path | BinaryIO, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        try:
            self._zip = zipfile.ZipFile(_as_file(source))
        except (zipfile.BadZipFile, OSError) as exc:
            raise UnsafeArchive(f"not a readable ZIP ({exc}): export the photos again as a .zip") from None
        self._members = check_members(self._zip.infolist(), self.limits)

    def names(self) -> list[str]:
        return list(self._members)

    def read(self, name: str) -> bytes:
        """The file's bytes, never more than the per-file limit (a header may lie about sizes)."""
        with self._zip.open(self._members[name]) as member:
            data = member.read(self.limits.file_bytes + 1)
        if len(data) > self.limits.file_bytes:
            raise UnsafeArchive(f"{name!r} expands beyond {_mb(self.limits.file_bytes)} per file: refused")
        return data

    def close(self) -> None:
        self._zip.close()


def check_members(infos: list[zipfile.ZipInfo], limits: Limits) -> dict[str, zipfile.ZipInfo]:
    """The archive's files by name (directories and macOS leftovers skipped); UnsafeArchive at the first breach."""
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        name = safe_name(info.filename)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UnsafeArchive(f"{info.filename!r} is a symbolic link: a ZIP of photos holds only files")
        if info.is_dir() or name.startswith("__MACOSX/") or PurePosixPath(name).name.startswith("._"):
            continue
        if len(members) >= limits.files:
            raise UnsafeArchive(f"more than {limits.files} files: split the photos into several imports")
        if info.file_size > limits.ratio * max(info.compress_size, 1) and info.file_size > 1024 * 1024:
            ratio = info.file_size // max(info.compress_size, 1)
            raise UnsafeArchive(
                f"{info.filename!r} expands {ratio} times (the limit is {limits.ratio}): a zip bomb? refused"
            )
        if info.file_size > limits.file_bytes:
            raise UnsafeArchive(f"{info.filename!r} is {_mb(info.file_size)}: the limit is {_mb(limits.file_bytes)}")
        total += info.file_size
        if total > limits.total_bytes:
            raise UnsafeArchive(f"the files add up to more than {_mb(limits.total_bytes)}: split the import")
        members[name] = info
    return members


def _as_file(source: bytes | Path | BinaryIO) -> Path | BinaryIO:
    return io.BytesIO(source) if isinstance(source, bytes) else source


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB"
