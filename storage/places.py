"""A sighting's coordinates, sealed at rest like the photo GPS they may come from.

Stored, a place keeps its typed text (and `from_photo`) in the clear and its
latitude and longitude as one sealed value, `sealed`; read back through
`open_place`, it has its `latitude` and `longitude` again, so everything
that shows or measures a place (the panel, the family's message) is unchanged.
The sealed value is bound to the record holding it (a sighting's or photo's
id): copied into another record, it does not open. A place stored before
sealing (plain coordinates) is read as it is until the start-up migration
has sealed every one, and refused after (storage/sealing.py).
"""

from __future__ import annotations

import json
from typing import Any

from bson import Binary

from storage.sealing import SIGHTING_PLACE, Keyring

_COORDINATES = ("latitude", "longitude")


def sealed_coordinates(latitude: float, longitude: float, purpose: bytes, keys: Keyring, record: object) -> Binary:
    """Latitude and longitude as one sealed value, for `purpose` (a sighting's place, a photo's GPS) in `record`."""
    return Binary(keys.seal(json.dumps([latitude, longitude]).encode(), purpose, str(record)))


def opened_coordinates(sealed: bytes, purpose: bytes, keys: Keyring, record: object) -> tuple[float, float]:
    latitude, longitude = json.loads(keys.open(sealed, purpose, str(record)))
    return latitude, longitude


def seal_place(place: Any, keys: Keyring, record: object) -> Any:
    """The place of sighting `record` with its coordinates sealed; without both coordinates, as it is."""
    if not isinstance(place, dict) or not set(_COORDINATES) <= place.keys():
        return place
    rest = {key: value for key, value in place.items() if key not in _COORDINATES}
    return rest | {"sealed": sealed_coordinates(place["latitude"], place["longitude"], SIGHTING_PLACE, keys, record)}


def open_place(place: Any, keys: Keyring, record: object) -> Any:
    """The place of sighting `record` with its coordinates readable again; a coordinate-less place as it is.

    Plain coordinates (stored before sealing) are refused once every place was sealed at start-up.
    """
    if isinstance(place, dict) and "sealed" not in place and set(_COORDINATES) & place.keys():
        keys.unsealed(b"", SIGHTING_PLACE)  # raises SealError once every place was sealed
    if not isinstance(place, dict) or "sealed" not in place:
        return place
    latitude, longitude = opened_coordinates(place["sealed"], SIGHTING_PLACE, keys, record)
    rest = {key: value for key, value in place.items() if key != "sealed"}
    return rest | {"latitude": latitude, "longitude": longitude}
