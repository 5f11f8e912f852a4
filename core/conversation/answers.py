"""What the family and the citizen hear once a reviewer approves a candidate."""

from __future__ import annotations

from typing import Any

from core.conversation.messages import Reply

FAMILY_DECIMALS = 3  # ~100 m: where to go and look, not the doorstep of whoever sent the sighting
REVIEWER_DECIMALS = 5  # ~1 m: what a reviewer weighs


def describe_place(place: dict[str, Any] | None, decimals: int = REVIEWER_DECIMALS) -> str:
    """A place as text, with a map link when there are coordinates, given to `decimals` places and no finer."""
    place = place or {}
    parts = [place.get("text") or ""]
    if "latitude" in place and "longitude" in place:
        lat, lon = f"{place['latitude']:.{decimals}f}", f"{place['longitude']:.{decimals}f}"
        zoom = 12 + decimals  # the map shows no finer than the numbers: 15 at 3 decimals, 17 at 5
        parts.append(f"{lat}, {lon} https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map={zoom}/{lat}/{lon}")
    return " ".join(p for p in parts if p) or "?"


def describe_time(doc: dict[str, Any]) -> str:
    moment = doc.get("time")
    return moment.strftime("%d %b %Y, %H:%M") if moment else doc.get("time_text") or "?"


def family_answer(case: dict[str, Any], sighting: dict[str, Any], exact_place: bool = False) -> Reply:
    """The family's message: the sighting's place to ~100 m unless the reviewer chose to share it exactly."""
    decimals = REVIEWER_DECIMALS if exact_place else FAMILY_DECIMALS
    return Reply(
        "match_found",
        {
            "name": case["name"],
            "reference": case["reference"],
            "sighting": sighting["reference"],
            "place": describe_place(sighting.get("place"), decimals),
            "time": describe_time(sighting),
        },
    )


def found_person_answer(case: dict[str, Any], person: dict[str, Any], organisation: dict[str, Any]) -> Reply:
    """The family's message when a person an organisation holds may be their relative: whom to contact, what to quote.

    A deceased person's record gets a message of its own (sent without any photo by the caller): it asks the
    family to contact the organisation, and says nothing more of the person.
    """
    contact = organisation.get("contact") or {}
    their_reference = person.get("external_id") or ""
    return Reply(
        "found_person_deceased" if person.get("condition") == "deceased" else "found_person",
        {
            "name": case["name"],
            "reference": case["reference"],
            "found": person["reference"],
            "organisation": organisation.get("name") or "?",
            **{key: contact.get(key) or Reply("not_given") for key in ("address", "phone", "hours")},
            "their_reference": f" ({their_reference})" if their_reference else "",
        },
    )
