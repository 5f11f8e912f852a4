"""What the family and the citizen hear once a reviewer approves a candidate."""

from __future__ import annotations

from typing import Any

from core.conversation.messages import Reply


def describe_place(place: dict[str, Any] | None) -> str:
    """A place as text, with a map link when there are coordinates."""
    place = place or {}
    parts = [place.get("text") or ""]
    if "latitude" in place and "longitude" in place:
        lat, lon = place["latitude"], place["longitude"]
        parts.append(
            f"{lat:.5f}, {lon:.5f} https://www.openstreetmap.org/?mlat={lat:.5f}&mlon={lon:.5f}#map=17/{lat:.5f}/{lon:.5f}"
        )
    return " ".join(p for p in parts if p) or "?"


def describe_time(doc: dict[str, Any]) -> str:
    moment = doc.get("time")
    return moment.strftime("%d %b %Y, %H:%M") if moment else doc.get("time_text") or "?"


def family_answer(case: dict[str, Any], sighting: dict[str, Any]) -> Reply:
    return Reply(
        "match_found",
        {
            "name": case["name"],
            "reference": case["reference"],
            "sighting": sighting["reference"],
            "place": describe_place(sighting.get("place")),
            "time": describe_time(sighting),
        },
    )
