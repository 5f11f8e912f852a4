"""What a found-person record says, checked before anything is stored (the panel form and the bulk import both).

Registers are often wrong about ages and genders, so these fields only flag a candidate (never hide one);
what is refused here is what cannot be read at all.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date

GENDERS = ("female", "male", "unknown")
CONDITIONS = ("alive", "deceased")
CLOSED_REASONS = ("reunited", "transferred", "died", "other")
MAX_PHOTOS = 10
MAX_AGE = 120
MAX_TEXT = 2000  # description, place, held at: long enough for a note, short enough to show


class InvalidRecord(ValueError):
    """A field that cannot be stored as given; the message names the field and what to write instead."""


@dataclass(frozen=True)
class FoundPerson:
    """One person an organisation holds, as registered (photos travel separately: they are bytes, not fields)."""

    found_on: date
    found_place: str = ""
    held_at: str = ""
    age_min: int | None = None
    age_max: int | None = None
    gender: str = "unknown"
    condition: str = "alive"
    description: str = ""
    external_id: str = ""
    notes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_record(self)

    def as_fields(self) -> dict[str, object]:
        """The stored fields (dates as ISO text: MongoDB has no date-only type)."""
        return {
            "found_on": self.found_on.isoformat(),
            "found_place": self.found_place,
            "held_at": self.held_at,
            "age_min": self.age_min,
            "age_max": self.age_max,
            "gender": self.gender,
            "condition": self.condition,
            "description": self.description,
            "external_id": self.external_id,
        }


# The registered fields, in the order the panel's form asks for them (the import's CSV names them too).
FIELDS = tuple(f.name for f in dataclasses.fields(FoundPerson) if f.name != "notes")


def check_record(record: FoundPerson, today: date | None = None) -> None:
    """Raise InvalidRecord naming the first field that cannot be stored."""
    if record.gender not in GENDERS:
        raise InvalidRecord(f"gender must be one of {', '.join(GENDERS)} (got {record.gender!r})")
    if record.condition not in CONDITIONS:
        raise InvalidRecord(f"condition must be one of {', '.join(CONDITIONS)} (got {record.condition!r})")
    if record.found_on > (today or date.today()):
        raise InvalidRecord(f"found_on {record.found_on.isoformat()} is in the future")
    for name in ("age_min", "age_max"):
        age = getattr(record, name)
        if age is not None and not 0 <= age <= MAX_AGE:
            raise InvalidRecord(f"{name} must be between 0 and {MAX_AGE} (got {age})")
    if record.age_min is not None and record.age_max is not None and record.age_min > record.age_max:
        raise InvalidRecord(f"age_min {record.age_min} is above age_max {record.age_max}")
    for name in ("found_place", "held_at", "description", "external_id"):
        if len(getattr(record, name)) > MAX_TEXT:
            raise InvalidRecord(f"{name} is longer than {MAX_TEXT} characters")
