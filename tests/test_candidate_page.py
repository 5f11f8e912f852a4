"""The candidate page tells the reviewer how far apart and how long after, with both places on a map."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

from bson import ObjectId

from storage.places import seal_place
from storage.sealing import keyring
from tests.chat_harness import Harness
from tests.test_admin_access import candidate, harness, login  # noqa: F401 - fixtures shared with the access tests

LAST_SEEN = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)


def page(harness: Harness, candidate: ObjectId) -> str:  # noqa: F811 - the fixtures imported above, asked for by name
    login(harness.client, "viewer")
    answer = harness.client.get(f"/candidates/{candidate}")
    assert answer.status_code == 200
    return html.unescape(answer.get_data(as_text=True))


def place_and_time(harness: Harness, candidate: ObjectId, case_fields: dict, sighting_fields: dict) -> None:  # noqa: F811 - the fixtures imported above, asked for by name
    found = harness.db.candidates.find_one({"_id": candidate})
    harness.db.cases.update_one({"reference": found["case"]}, {"$set": case_fields})
    sighting = harness.db.sightings.find_one({"reference": found["sighting"]})
    if "place" in sighting_fields:  # sealed for this sighting, as the chat stores it (storage/places.py)
        sighting_fields |= {"place": seal_place(sighting_fields["place"], keyring(), sighting["_id"])}
    harness.db.sightings.update_one({"_id": sighting["_id"]}, {"$set": sighting_fields})


def test_shared_locations_show_the_distance_the_interval_and_both_maps(
    harness: Harness,  # noqa: F811 - the fixtures imported above, asked for by name
    candidate: ObjectId,  # noqa: F811 - the fixtures imported above, asked for by name
) -> None:
    place_and_time(
        harness,
        candidate,
        {"place": {"text": "India Gate", "latitude": 28.6129, "longitude": 77.2295}, "time": LAST_SEEN},
        {
            "place": {"text": "Agra Cantt station", "latitude": 27.1592, "longitude": 78.0018},
            "time": LAST_SEEN + timedelta(days=3, hours=4, minutes=10),
        },
    )
    shown = page(harness, candidate)
    apart = re.search(r'<p id="apart">(.*?)</p>', shown, re.S).group(1)  # type: ignore[union-attr]
    assert re.search(r'id="apart-distance">1\d\d km<', apart)  # India Gate to Agra: about 178 km
    assert "3 days 4 hours after last seen" in apart
    assert (
        'id="case-map" href="https://www.openstreetmap.org/?mlat=28.61290&mlon=77.22950#map=16/28.61290/77.22950"'
        in apart
    )
    assert 'id="sighting-map" href="https://www.openstreetmap.org/?mlat=27.15920&mlon=78.00180' in apart


def test_typed_places_get_search_links_and_an_honest_unknown(
    harness: Harness,  # noqa: F811 - the fixtures imported above, asked for by name
    candidate: ObjectId,  # noqa: F811 - the fixtures imported above, asked for by name
) -> None:
    place_and_time(
        harness,
        candidate,
        {"place": {"text": "Chandni Chowk, Delhi"}, "time": LAST_SEEN},
        {"place": {"text": "Agra Fort"}, "time": LAST_SEEN - timedelta(hours=2)},
    )
    apart = re.search(r'<p id="apart">(.*?)</p>', page(harness, candidate), re.S).group(1)  # type: ignore[union-attr]
    assert "distance unknown" in apart and "km" not in apart
    assert "2 hours before last seen" in apart  # a sighting before the last-seen time is shown as such
    assert "https://www.openstreetmap.org/search?query=Chandni+Chowk%2C+Delhi" in apart
    assert "https://www.openstreetmap.org/search?query=Agra+Fort" in apart


def test_the_page_says_how_sure_a_candidate_this_close_is_and_nothing_past_what_was_measured(
    harness: Harness,  # noqa: F811 - the fixtures imported above, asked for by name
    candidate: ObjectId,  # noqa: F811 - the fixtures imported above, asked for by name
) -> None:
    for distance, words in ((0.31, "almost all (99 in 100)"), (0.39, "about 8 in 10"), (0.54, "about 7 in 100")):
        harness.db.candidates.update_one({"_id": candidate}, {"$set": {"distance": distance}})
        sure = re.search(r'<span id="how-sure">How sure: (.*?)\.</span>', page(harness, candidate))
        assert sure is not None and sure.group(1).startswith(f"{words} candidates this close were the same person")
    harness.db.candidates.update_one({"_id": candidate}, {"$set": {"distance": 0.66}})  # beyond any dlib candidate
    assert 'id="how-sure"' not in page(harness, candidate)
