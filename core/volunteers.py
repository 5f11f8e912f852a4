"""Volunteers near a last-seen place: which grid cells an area covers, quiet hours and the weekly cap. Pure.

SecantusDB has no geo index, so a volunteer's area (a circle of 2, 10 or 50 km) is stored as the grid cells
it touches, at the one resolution its radius picks (a cell at least as wide as the radius, so a circle touches
at most a few cells). A last-seen place is one cell per resolution; the volunteers stored under any of those
cells are the candidates (one `$in` on an indexed field), and the exact distance decides among them.
"""

from __future__ import annotations

import math
from datetime import datetime, time, timedelta

from core.places import haversine_km

RADII_KM = (2, 10, 50)
# Degrees of latitude per cell for each radius: 0.05° ≈ 5.6 km, 0.2° ≈ 22 km, 1° ≈ 111 km (wider than 2 radii).
CELL_DEGREES = {2: 0.05, 10: 0.2, 50: 1.0}
KM_PER_DEGREE = 111.32
WEEK = timedelta(days=7)
DEFAULT_CAP = 3  # alerts a week, unless the volunteer chose another
MAX_CAP = 20


def cell(latitude: float, longitude: float, radius_km: int) -> str:
    """The id of the cell holding a point at the resolution of `radius_km`, e.g. '10:-41:388'."""
    size = CELL_DEGREES[radius_km]
    return f"{radius_km}:{math.floor(latitude / size)}:{math.floor(_wrap(longitude) / size)}"


def point_cells(latitude: float, longitude: float) -> list[str]:
    """The cells a last-seen place lies in, one per resolution: what to look volunteers up by."""
    return [cell(latitude, longitude, radius) for radius in RADII_KM]


def area_cells(latitude: float, longitude: float, radius_km: int) -> list[str]:
    """Every cell a volunteer's circle touches (its bounding box), at its radius's resolution."""
    size = CELL_DEGREES[radius_km]
    dlat = radius_km / KM_PER_DEGREE
    dlon = min(180.0, radius_km / (KM_PER_DEGREE * max(math.cos(math.radians(latitude)), 0.01)))
    rows = range(math.floor((latitude - dlat) / size), math.floor((latitude + dlat) / size) + 1)
    west, east = math.floor((longitude - dlon) / size), math.floor((longitude + dlon) / size)
    columns = {math.floor(_wrap((column + 0.5) * size) / size) for column in range(west, east + 1)}
    return sorted(f"{radius_km}:{row}:{column}" for row in rows for column in columns)


def covers(volunteer: tuple[float, float], radius_km: int, place: tuple[float, float]) -> bool:
    """Whether a volunteer's circle holds the last-seen place."""
    return haversine_km(volunteer, place) <= radius_km


def _wrap(longitude: float) -> float:
    """Longitude in [-180, 180): a circle over the antimeridian lands in the cells across it."""
    return (longitude + 180.0) % 360.0 - 180.0


def parse_radius(words: str) -> int | None:
    """2, 10 or 50 from '2', '10 km', '50km'; None for anything else."""
    digits = words.replace("km", "").replace("किमी", "").strip()
    return int(digits) if digits.isdigit() and int(digits) in RADII_KM else None


def parse_quiet(words: str) -> tuple[int, int] | None:
    """Quiet hours as (from, to) whole hours, from '22-7', '22 to 7', '22:00-07:00'; (0, 0) for 'none'."""
    if words in ("none", "no", "0", "कोई नहीं", "नहीं"):
        return (0, 0)
    parts = words.replace("to", "-").replace("से", "-").replace("तक", "").replace(" ", "").split("-")
    if len(parts) != 2:
        return None
    hours = [part.split(":")[0] for part in parts]
    if not all(hour.isdigit() and int(hour) < 24 for hour in hours):
        return None
    return int(hours[0]), int(hours[1])


def parse_cap(words: str) -> int | None:
    """At most this many alerts a week: 1 to MAX_CAP."""
    return int(words) if words.isdigit() and 1 <= int(words) <= MAX_CAP else None


def in_quiet_hours(quiet: tuple[int, int], now: datetime) -> bool:
    """Whether `now` (the volunteer's local time) falls in their quiet hours; (h, h) means none."""
    start, end = quiet
    if start == end:
        return False
    hour = time(now.hour, now.minute)
    if start < end:
        return time(start) <= hour < time(end)
    return hour >= time(start) or hour < time(end)  # across midnight, e.g. 22-7


def quiet_ends(quiet: tuple[int, int], now: datetime) -> datetime:
    """When the quiet hours that hold `now` end: the next time the clock reads their end hour."""
    end = now.replace(hour=quiet[1], minute=0, second=0, microsecond=0)
    return end if end > now else end + timedelta(days=1)


def alerts_this_week(sent: list[datetime], now: datetime) -> int:
    """How many alerts a volunteer had in the seven days up to `now`."""
    return sum(1 for moment in sent if now - moment < WEEK)
