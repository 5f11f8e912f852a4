"""A sighting's coordinates, sealed at rest like the photo GPS they may come from.

Stored, a place keeps its typed text (and `from_photo`) in the clear and its
latitude and longitude as one sealed value, `sealed`; read back through
`open_place`, it has its `latitude` and `longitude` again, so everything
that shows or measures a place (the panel, the family's message) is unchanged.
A place stored before sealing (plain coordinates) is read as it is.
"""

from __future__ import annotations

import json
from typing import Any

from bson import Binary

from storage.sealing import SIGHTING_PLACE, Keyring

_COORDINATES = ("latitude", "longitude")


def sealed_coordinates(latitude: float, longitude: float, purpose: bytes, keys: Keyring) -> Binary:
    """Latitude and longitude as one sealed value, for `purpose` (a sighting's place, a photo's GPS)."""
    return Binary(keys.seal(json.dumps([latitude, longitude]).encode(), purpose))


def opened_coordinates(sealed: bytes, purpose: bytes, keys: Keyring) -> tuple[float, float]:
    latitude, longitude = json.loads(keys.open(sealed, purpose))
    return latitude, longitude


def seal_place(place: Any, keys: Keyring) -> Any:
    """The place with its coordinates sealed; anything without both coordinates comes back as it is."""
    if not isinstance(place, dict) or not set(_COORDINATES) <= place.keys():
        return place
    rest = {key: value for key, value in place.items() if key not in _COORDINATES}
    return rest | {"sealed": sealed_coordinates(place["latitude"], place["longitude"], SIGHTING_PLACE, keys)}


def open_place(place: Any, keys: Keyring) -> Any:
    """The place with its coordinates readable again (a plain or coordinate-less place as it is)."""
    if not isinstance(place, dict) or "sealed" not in place:
        return place
    latitude, longitude = opened_coordinates(place["sealed"], SIGHTING_PLACE, keys)
    rest = {key: value for key, value in place.items() if key != "sealed"}
    return rest | {"latitude": latitude, "longitude": longitude}
