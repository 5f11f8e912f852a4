"""Consistency flags: what a candidate's two sides say that cannot both be true, for the reviewer to weigh.

A flag never hides a candidate (registers often get ages and genders wrong): the review queue only puts
flagged candidates after the unflagged ones of the same band. Each side is read only where it says something:
an unknown gender, age or date raises nothing.

- `gender`: the case's gender (typed by the family, in any words) and the found person's differ;
- `age`: the found person's estimated age range cannot hold the missing person's age now (their age when
  reported plus the time since the report; a birthday may fall anywhere, so a year of slack upward);
- `before_missing`: the person was found (or sighted) before they went missing: before the case's last-seen
  date when the family gave one, else before the report date (the flag says which).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

FLAGS = ("gender", "age", "before_missing")

# What families type for a gender, folded to the found-person register's words (core/found/record.py GENDERS).
_GENDER_WORDS = {
    "female": {"female", "f", "woman", "girl", "w", "femme", "mujer", "महिला", "स्त्री", "लड़की", "औरत"},
    "male": {"male", "m", "man", "boy", "homme", "hombre", "पुरुष", "लड़का", "आदमी"},
}
DAYS_A_YEAR = 365.25


@dataclass(frozen=True)
class CaseSide:
    """What the family reported that a flag can compare."""

    reported_on: date
    age: int | None = None  # when reported
    gender: str | None = None  # as typed
    last_seen: date | None = None


@dataclass(frozen=True)
class SeenSide:
    """What the other side says: a found person's register entry, or a sighting (only its date)."""

    seen_on: date | None
    age_min: int | None = None
    age_max: int | None = None
    gender: str | None = None  # female, male, unknown
    kind: str = "found"  # found or sighting: how the flag's sentence names it


@dataclass(frozen=True)
class Flag:
    code: str  # one of FLAGS
    detail: str  # the sentence a reviewer reads

    def as_doc(self) -> dict[str, str]:
        return {"code": self.code, "detail": self.detail}


def gender_of(typed: str | None) -> str | None:
    """The register's word for what a family typed, or None when it is not clearly one of them."""
    words = " ".join((typed or "").lower().replace(".", " ").split())
    for gender, known in _GENDER_WORDS.items():
        if words in known:
            return gender
    return None


def consistency_flags(case: CaseSide, seen: SeenSide, today: date) -> list[Flag]:
    """Every flag the two sides raise, in FLAGS order; none when they agree or do not say."""
    flags = [_gender(case, seen), _age(case, seen, today), _before_missing(case, seen)]
    return [flag for flag in flags if flag is not None]


def _gender(case: CaseSide, seen: SeenSide) -> Flag | None:
    reported, registered = gender_of(case.gender), gender_of(seen.gender)
    if reported is None or registered is None or reported == registered:
        return None
    return Flag("gender", f"the family reported {case.gender!r}; the {seen.kind} record says {seen.gender}")


def _age(case: CaseSide, seen: SeenSide, today: date) -> Flag | None:
    if case.age is None or (seen.age_min is None and seen.age_max is None):
        return None
    years = max(0, int((today - case.reported_on).days // DAYS_A_YEAR))
    youngest, oldest = case.age + years, case.age + years + 1  # a birthday may have passed since the report
    low = seen.age_min if seen.age_min is not None else 0
    high = seen.age_max if seen.age_max is not None else 200
    if oldest < low or youngest > high:
        told = f"{case.age} when reported on {case.reported_on.isoformat()}, so about {youngest} now"
        return Flag("age", f"the missing person was {told}; the {seen.kind} record estimates {_range(seen)}")
    return None


def _before_missing(case: CaseSide, seen: SeenSide) -> Flag | None:
    if seen.seen_on is None:
        return None
    went, which = (case.last_seen, "last seen") if case.last_seen is not None else (case.reported_on, "reported")
    if seen.seen_on >= went:
        return None
    verb = "found" if seen.kind == "found" else "sighted"
    # Say which date was used: without a last-seen date the report date stands in for it.
    return Flag(
        "before_missing",
        f"{verb} on {seen.seen_on.isoformat()}, before the missing person was {which} on {went.isoformat()}",
    )


def _range(seen: SeenSide) -> str:
    if seen.age_min is not None and seen.age_max is not None:
        return f"{seen.age_min}-{seen.age_max}"
    return f"at least {seen.age_min}" if seen.age_min is not None else f"at most {seen.age_max}"


def day_of(value: date | datetime | str | None) -> date | None:
    """A stored date (a datetime, a date, or ISO text as found persons keep it) as a day; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
