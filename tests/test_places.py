"""Distance and time between last seen and sighted, as the candidate page shows them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.places import coordinates, describe_interval, describe_km, distance_km, haversine_km

DELHI = (28.6139, 77.2090)
MUMBAI = (19.0760, 72.8777)
SEEN = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)


def test_delhi_to_mumbai_is_about_1150_km() -> None:
    assert haversine_km(DELHI, MUMBAI) == pytest.approx(1150, abs=10)
    assert haversine_km(DELHI, DELHI) == 0
    assert haversine_km((0, 179.5), (0, -179.5)) == pytest.approx(111.2, abs=0.5)  # across the date line


def test_distance_needs_coordinates_on_both_places() -> None:
    pinned = {"text": "Chandni Chowk", "latitude": DELHI[0], "longitude": DELHI[1]}
    assert distance_km(pinned, {"latitude": MUMBAI[0], "longitude": MUMBAI[1]}) == pytest.approx(1150, abs=10)
    assert distance_km(pinned, {"text": "Mumbai Central"}) is None  # a typed place: no guessing
    assert distance_km(None, pinned) is None
    assert coordinates({"latitude": float("nan"), "longitude": 1}) is None
    assert coordinates({"latitude": 95, "longitude": 1}) is None


@pytest.mark.parametrize(("km", "shown"), [(0.347, "350 m"), (4.24, "4.2 km"), (873.4, "873 km"), (1150.2, "1,150 km")])
def test_distances_read_naturally(km: float, shown: str) -> None:
    assert describe_km(km) == shown


@pytest.mark.parametrize(
    ("later", "said"),
    [
        (timedelta(days=3, hours=4, minutes=20), "3 days 4 hours after last seen"),
        (timedelta(days=1), "1 day after last seen"),
        (timedelta(hours=2, minutes=1), "2 hours 1 minute after last seen"),
        (timedelta(minutes=45), "45 minutes after last seen"),
        (timedelta(seconds=20), "at the time last seen"),
        (-timedelta(hours=5), "5 hours before last seen"),
    ],
)
def test_the_interval_reads_naturally(later: timedelta, said: str) -> None:
    assert describe_interval(SEEN, SEEN + later) == said


def test_unknown_times_are_named_and_zones_are_compared_on_one_clock() -> None:
    assert describe_interval(None, SEEN) == "last-seen time unknown"
    assert describe_interval(SEEN, None) == "sighting time unknown"
    assert describe_interval(None, None) == "both times unknown"
    naive_utc = SEEN.replace(tzinfo=None)  # as MongoDB returns it
    india = (SEEN + timedelta(hours=6)).astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert describe_interval(naive_utc, india) == "6 hours after last seen"
