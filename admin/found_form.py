"""The "Register a found person" form read into a FoundPerson and its photos, refusing what cannot be stored.

Every refusal says which field or which file and what to do, so the form can be shown again as it was typed.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from bson import ObjectId
from werkzeug.datastructures import FileStorage

from core.errors import PhotoRejected
from core.faces.images import decode_photo
from core.found.record import FIELDS, MAX_PHOTOS, FoundPerson, InvalidRecord

LABELS = {
    "found_on": "Found on",
    "found_place": "Found where",
    "held_at": "Held at",
    "age_min": "Youngest age",
    "age_max": "Oldest age",
    "gender": "Gender",
    "condition": "Condition",
    "description": "Description",
    "external_id": "Your reference",
}
WHY = {
    "not_an_image": "not an image",
    "video": "a video, not a photo",
    "truncated": "the file is cut off or damaged",
    "too_many_pixels": "too many pixels",
    "empty": "the file is empty",
}
TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


class UnreadablePhoto(InvalidRecord):
    """A chosen file that is not a photo we can read; `reason` is decode_photo's (`too_large_file`...)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes
    content_type: str


def new_token() -> str:
    """The form's one-time token: the same form sent twice (a double click) registers one person."""
    return secrets.token_urlsafe(18)


def form_source(organisation: ObjectId, token: str) -> str:
    """The record's `source`; a token that is not one of ours gets a fresh one (no idempotency, but no error)."""
    return f"form:{organisation}:{token if TOKEN.match(token) else new_token()}"


def read_record(form: Mapping[str, str]) -> FoundPerson:
    """The typed fields as a record; InvalidRecord names the field (by its label) and what to write."""
    text = {name: form.get(name, "").strip() for name in FIELDS}
    try:
        found_on = date.fromisoformat(text["found_on"])
    except ValueError:
        raise InvalidRecord("Found on: give the date the person was found, as YYYY-MM-DD (2026-12-01)") from None
    try:
        return FoundPerson(
            found_on=found_on,
            found_place=text["found_place"],
            held_at=text["held_at"],
            age_min=_age(text, "age_min"),
            age_max=_age(text, "age_max"),
            gender=text["gender"] or "unknown",
            condition=text["condition"] or "alive",
            description=text["description"],
            external_id=text["external_id"],
        )
    except InvalidRecord as exc:
        raise InvalidRecord(_labelled(str(exc))) from None


def read_photos(files: Iterable[FileStorage], max_bytes: int, max_pixels: int) -> list[Upload]:
    """1 to MAX_PHOTOS images, each decoded once to be sure it is one; InvalidRecord names the file refused."""
    chosen = [file for file in files if file and file.filename]
    if not chosen:
        raise InvalidRecord("Photos: choose at least one photo of the person's face")
    if len(chosen) > MAX_PHOTOS:
        raise InvalidRecord(f"Photos: at most {MAX_PHOTOS} photos per person (you chose {len(chosen)})")
    uploads = []
    for file in chosen:
        data = file.read(max_bytes + 1)
        try:
            decode_photo(data, max_bytes, max_pixels)
        except PhotoRejected as exc:
            raise UnreadablePhoto(
                f"Photos: {file.filename} is not a photo we can read ({_why(exc.reason, max_bytes)}); "
                "choose another file or leave it out",
                exc.reason,
            ) from None
        uploads.append(Upload(str(file.filename), data, file.mimetype or ""))
    return uploads


def _age(text: Mapping[str, str], name: str) -> int | None:
    if not text[name]:
        return None
    try:
        return int(text[name])
    except ValueError:
        raise InvalidRecord(f"{LABELS[name]}: write a whole number of years, or leave it empty") from None


def _labelled(message: str) -> str:
    """A storage-side message in the form's words: `age_min` becomes "Youngest age"."""
    for name in sorted(LABELS, key=len, reverse=True):
        message = message.replace(name, LABELS[name])
    return message


def _why(reason: str, max_bytes: int) -> str:
    if reason == "too_large_file":
        return f"larger than {max_bytes // 2**20} MB"
    return WHY.get(reason, reason.replace("_", " "))
