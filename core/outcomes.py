"""What became of an approved match: a lead is not a result until someone checks it in person.

The Delhi High Court found in 2019 that under 1 % of a register's "matches" had led
anywhere; so every approved candidate carries an outcome, and the overview shows the
funnel (candidates, approved, contacted, reunited or not the person) rather than
counting matches.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

OUTCOMES = {
    "contacted": "Contacted",
    "reunited": "Reunited (verified in person)",
    "not_the_person": "Not the person",
    "unreachable": "Unreachable",
}
FINAL = frozenset({"reunited"})  # closes the case (and the found person): it is not set again


# What a match has become, in a partner organisation's words (a registrar follows its found persons' matches).
FOLLOW_UP = {"pending": "under review", "approved": "family informed", "rejected": "not a match"}
FOLLOW_UP_OUTCOMES = {
    "contacted": "contacted",
    "reunited": "reunited",
    "not_the_person": "not the person",
    "unreachable": "unreachable",
}


def follow_up(status: str, outcome: str | None) -> str:
    """What became of a candidate: its outcome once set, else where its review stands."""
    if status == "approved" and outcome in FOLLOW_UP_OUTCOMES:
        return FOLLOW_UP_OUTCOMES[outcome]
    return FOLLOW_UP.get(status, status)


def may_set_outcome(status: str, outcome: str | None) -> bool:
    """Whether an outcome may be set now (check_outcome would let it): approved and not yet final."""
    return status == "approved" and outcome not in FINAL


class OutcomeRefused(ValueError):
    """The outcome cannot be set on this candidate now; the message says why."""


def check_outcome(status: str, current: str | None, new: str) -> None:
    """Raise OutcomeRefused unless `new` may follow `current` on a candidate of this review status."""
    if new not in OUTCOMES:
        raise OutcomeRefused(f"unknown outcome {new!r}; choose one of {', '.join(OUTCOMES)}")
    if status != "approved":
        raise OutcomeRefused("only an approved candidate has an outcome: approve it first")
    if current in FINAL:
        raise OutcomeRefused(f"this match is already {OUTCOMES[current].lower()}; its case is closed")


@dataclass(frozen=True)
class Funnel:
    """One period's candidates and what became of them; `by_organisation` for found-person candidates."""

    candidates: int = 0
    approved: int = 0
    contacted: int = 0  # with any outcome that means someone got in touch: contacted, reunited, not the person
    reunited: int = 0
    not_the_person: int = 0
    unreachable: int = 0
    median_report_to_reunion_s: float | None = None
    by_organisation: dict[str, Funnel] = field(default_factory=dict)


REACHED = frozenset({"contacted", "reunited", "not_the_person"})


def funnel(rows: Iterable[dict[str, Any]]) -> Funnel:
    """Count candidates (each: status, outcome, reported_at, outcome_at, organisation) into the funnel."""
    rows = list(rows)
    organisations = sorted({str(row["organisation"]) for row in rows if row.get("organisation")})
    return _count(
        rows, {name: _count([r for r in rows if r.get("organisation") == name], {}) for name in organisations}
    )


def _count(rows: list[dict[str, Any]], by_organisation: dict[str, Funnel]) -> Funnel:
    outcomes = [row.get("outcome") for row in rows if row.get("status") == "approved"]
    reunions = [
        (row["outcome_at"] - row["reported_at"]).total_seconds()
        for row in rows
        if row.get("outcome") == "reunited" and isinstance(row.get("reported_at"), datetime) and row.get("outcome_at")
    ]
    return Funnel(
        candidates=len(rows),
        approved=len(outcomes),
        contacted=sum(outcome in REACHED for outcome in outcomes),
        reunited=outcomes.count("reunited"),
        not_the_person=outcomes.count("not_the_person"),
        unreachable=outcomes.count("unreachable"),
        median_report_to_reunion_s=statistics.median(reunions) if reunions else None,
        by_organisation=by_organisation,
    )
