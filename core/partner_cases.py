"""A missing-person report an organisation registers for a family (the partner API's cases), checked before storing.

It holds what a family's chat report holds (name, age, gender, where and when last seen, a description, the
language the family reads), an age range when only that is known, the organisation's own id, and optionally the
family's WhatsApp number, given with the family's agreement: that number is asked for consent before anything else.
Stored as a chat case is (storage/cases.py), so matching, review and the family's messages treat it alike.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from core.conversation.catalog import DEFAULT_LANGUAGE, LANGUAGES
from core.conversation.flows import MAX_AGE, MAX_FREE_TEXT, MAX_GENDER, MAX_NAME, MAX_PLACE
from core.found.public import rfc3339
from core.found.record import InvalidRecord

CLOSED_REASONS = ("found", "withdrawn", "duplicate", "other")
MAX_EXTERNAL_ID = 200
WHATSAPP = re.compile(r"^\+[1-9][0-9]{7,14}$")  # E.164: a plus, the country code, at most 15 digits
FAMILY_CHAT = ("none", "asked", "agreed", "declined", "withdrawn", "unanswered")  # where the family's chat stands
_TEXTS = {"name": MAX_NAME, "gender": MAX_GENDER, "last_seen_place": MAX_PLACE, "description": MAX_FREE_TEXT}


@dataclass(frozen=True)
class PartnerCase:
    """The fields an organisation registers; `family_whatsapp` only at creation (it is asked, then forgotten if no)."""

    name: str
    age: int | None = None
    age_min: int | None = None
    age_max: int | None = None
    gender: str | None = None
    last_seen_place: str | None = None
    last_seen_on: date | None = None
    description: str | None = None
    language: str = DEFAULT_LANGUAGE
    external_id: str | None = None
    family_whatsapp: str | None = None

    def __post_init__(self) -> None:
        check_case(self)

    def as_fields(self) -> dict[str, Any]:
        """The stored fields, named as a chat report's are (place, time, time_text), so every reader of cases works."""
        seen = self.last_seen_on
        return {
            "name": self.name,
            "age": self.age,
            "age_min": self.age_min,
            "age_max": self.age_max,
            "gender": self.gender,
            "place": {"text": self.last_seen_place} if self.last_seen_place else None,
            "time": datetime(seen.year, seen.month, seen.day, tzinfo=UTC) if seen else None,
            "time_text": seen.isoformat() if seen else None,
            "description": self.description,
            "language": self.language,
            "external_id": self.external_id,
        }


FIELDS = tuple(f.name for f in dataclasses.fields(PartnerCase))
UPDATABLE = tuple(name for name in FIELDS if name != "family_whatsapp")


def check_case(case: PartnerCase, today: date | None = None) -> None:
    """Raise InvalidRecord, its message starting with the field's name, for the first field that cannot be stored."""
    if sum(ch.isalpha() for ch in case.name) < 2:
        raise InvalidRecord("name must have at least 2 letters")
    for name, limit in _TEXTS.items():
        value = getattr(case, name)
        if value is not None and len(value) > limit:
            raise InvalidRecord(f"{name} is longer than {limit} characters")
    if case.external_id is not None and len(case.external_id) > MAX_EXTERNAL_ID:
        raise InvalidRecord(f"external_id is longer than {MAX_EXTERNAL_ID} characters")
    for name in ("age", "age_min", "age_max"):
        value = getattr(case, name)
        if value is not None and not 0 <= value <= MAX_AGE:
            raise InvalidRecord(f"{name} must be between 0 and {MAX_AGE} (got {value})")
    if case.age is not None and (case.age_min is not None or case.age_max is not None):
        raise InvalidRecord("age: send either age or an age range (age_min, age_max), not both")
    if case.age_min is not None and case.age_max is not None and case.age_min > case.age_max:
        raise InvalidRecord(f"age_min {case.age_min} is above age_max {case.age_max}")
    if case.last_seen_on is not None and case.last_seen_on > (today or datetime.now(UTC).date()):
        raise InvalidRecord(f"last_seen_on {case.last_seen_on.isoformat()} is in the future")
    if case.language not in LANGUAGES:
        raise InvalidRecord(f"language must be one of {', '.join(LANGUAGES)} (got {case.language!r})")
    if case.family_whatsapp is not None and not WHATSAPP.match(case.family_whatsapp):
        raise InvalidRecord("family_whatsapp must be an international number: +, country code, number (+919812345678)")


def stored_fields(case: dict[str, Any]) -> dict[str, Any]:
    """A stored case's fields as PartnerCase names them: the base an update changes."""
    place, seen = case.get("place") or {}, case.get("time")
    return {
        "name": case.get("name") or "",
        "age": case.get("age"),
        "age_min": case.get("age_min"),
        "age_max": case.get("age_max"),
        "gender": case.get("gender"),
        "last_seen_place": place.get("text") or None,
        "last_seen_on": seen.date() if isinstance(seen, datetime) else None,
        "description": case.get("description"),
        "language": case.get("language") or DEFAULT_LANGUAGE,
        "external_id": case.get("external_id"),
    }


def family_chat(case: dict[str, Any]) -> str:
    """Where the family's chat stands, as the organisation sees it (never the number itself)."""
    state = (case.get("family") or {}).get("consent")
    return state if state in FAMILY_CHAT else "none"


def case_public(case: dict[str, Any]) -> dict[str, Any]:
    """The case as the organisation that registered it reads it through the API (RFC 3339 UTC times)."""
    fields = stored_fields(case)
    return (
        {"reference": case["reference"], "status": case.get("status", "open")}
        | fields
        | {
            "last_seen_on": fields["last_seen_on"].isoformat() if fields["last_seen_on"] else None,
            "family_chat": family_chat(case),
            "closed_reason": case.get("closed_reason"),
            "created_at": rfc3339(case.get("created_at")),
            "updated_at": rfc3339(case.get("updated_at") or case.get("created_at")),
            "closed_at": rfc3339(case.get("closed_at")),
        }
    )
