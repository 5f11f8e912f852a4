"""How far apart, and how long between, the place a person was last seen and a sighting: for reviewers.

Pure: places are the dicts stored on cases and sightings ({text, latitude,
longitude}); only shared locations carry coordinates, so a typed place has no
distance (no gazetteer is consulted: a guessed town could be the wrong one).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

EARTH_RADIUS_KM = 6371.0088  # the mean radius (IUGG)


def coordinates(place: dict[str, Any] | None) -> tuple[float, float] | None:
    """(latitude, longitude) when the place has real ones; None for a typed place or nonsense."""
    place = place or {}
    try:
        latitude, longitude = float(place["latitude"]), float(place["longitude"])
    except (KeyError, TypeError, ValueError):
        return None
    if math.isfinite(latitude) and math.isfinite(longitude) and abs(latitude) <= 90 and abs(longitude) <= 180:
        return latitude, longitude
    return None


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in kilometres between two (latitude, longitude) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def distance_km(last_seen: dict[str, Any] | None, sighted: dict[str, Any] | None) -> float | None:
    """The distance between two stored places, or None unless both have coordinates."""
    a, b = coordinates(last_seen), coordinates(sighted)
    return haversine_km(a, b) if a and b else None


def describe_km(km: float) -> str:
    """'350 m', '4.2 km', '873 km': precise where it matters, no false precision far away."""
    if km < 1:
        return f"{round(km * 1000, -1):.0f} m"
    return f"{km:.1f} km" if km < 10 else f"{km:,.0f} km"


def describe_interval(last_seen: datetime | None, sighted: datetime | None) -> str:
    """'3 days 4 hours after last seen', '2 hours before last seen', or which time is unknown."""
    if last_seen is None and sighted is None:
        return "both times unknown"
    if last_seen is None:
        return "last-seen time unknown"
    if sighted is None:
        return "sighting time unknown"
    seconds = (_utc(sighted) - _utc(last_seen)).total_seconds()
    if abs(seconds) < 60:
        return "at the time last seen"
    return f"{_span(abs(seconds))} {'after' if seconds > 0 else 'before'} last seen"


def _span(seconds: float) -> str:
    minutes = int(seconds // 60)
    days, hours, minutes = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        parts = [(days, "day"), (hours, "hour")]
    elif hours:
        parts = [(hours, "hour"), (minutes, "minute")]
    else:
        parts = [(minutes, "minute")]
    return " ".join(f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in parts if n)


def _utc(moment: datetime) -> datetime:
    """MongoDB gives naive UTC back; parsed times carry their zone. Compare them on one clock."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
