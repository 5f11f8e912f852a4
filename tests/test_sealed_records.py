"""What someone with write access to the database cannot do with sealed values (issue 23).

Once the start-up migration has sealed every older value, a plain value planted
where a sealed one belongs is refused, not read; and a sealed value copied from
one record into another (a sighting's place, a photo's bytes or GPS, a face's
encoding) does not open there.
"""

from __future__ import annotations

from pathlib import Path

import gridfs
import numpy as np
import pytest
from pymongo.database import Database

from core.faces.analysis import analyse_photo
from storage.cases import create_sighting, find_sighting
from storage.faces import faces_of_photo, store_faces, stored_vector, vector_to_bytes
from storage.photos import Owner, find_photo, photo_bytes, photo_location, save_photo
from storage.schema import MIGRATIONS_DONE, PHOTO_BUCKET
from storage.sealing import SealError
from storage.sealing_migration import seal_every_value
from tests.test_encryption import phone_jpeg

SOL = {"text": "Puerta del Sol", "latitude": 40.4169, "longitude": -3.7035}
GRAN_VIA = {"text": "Gran Via", "latitude": 40.4203, "longitude": -3.7058}


def two_sightings(db: Database) -> tuple[str, str]:
    first = create_sighting(db, "telegram:1", {"place": SOL}, source="test:1")
    return first, create_sighting(db, "telegram:2", {"place": GRAN_VIA}, source="test:2")


def faces_of_two_photos(db: Database, faces_dir: Path) -> tuple[dict, dict]:
    people = faces_dir / "groups/two_people.jpg"
    photos = [save_photo(db, people.read_bytes(), Owner("sighting", reference)).id for reference in ("SG-A", "SG-B")]
    analysis = analyse_photo(people.read_bytes())
    for photo_id in photos:
        store_faces(db, find_photo(db, photo_id), analysis)
    return faces_of_photo(db, photos[0])[0], faces_of_photo(db, photos[1])[0]


# Unsealed values refused once every one was sealed ---------------------------------------------------------


def test_a_plain_place_photo_or_encoding_planted_after_the_migration_is_refused(db: Database, faces_dir: Path) -> None:
    assert "seal_every_value" in db.counters.find_one({"_id": MIGRATIONS_DONE})["done"]  # the marker
    first, _ = two_sightings(db)
    db.sightings.update_one(
        {"reference": first}, {"$set": {"place": {"text": "planted", "latitude": 1, "longitude": 2}}}
    )
    with pytest.raises(SealError, match="an unsealed sighting-place where a sealed one is expected"):
        find_sighting(db, first)

    photo_id = save_photo(db, b"\xff\xd8 as sent", Owner("sighting", first)).id
    planted = gridfs.GridFSBucket(db, bucket_name=PHOTO_BUCKET).upload_from_stream("planted", b"\xff\xd8 planted")
    db.photos.update_one({"_id": photo_id}, {"$set": {"file_id": planted}})
    with pytest.raises(SealError, match="an unsealed photo"):
        photo_bytes(db, find_photo(db, photo_id))

    face, _ = faces_of_two_photos(db, faces_dir)
    db.faces.update_one({"_id": face["_id"]}, {"$set": {"encoding": vector_to_bytes(np.ones(128))}})
    with pytest.raises(SealError, match="an unsealed face-encoding"):
        stored_vector(db.faces.find_one({"_id": face["_id"]}))


def test_deleting_the_marker_does_not_get_planted_values_sealed_at_the_next_start(db: Database) -> None:
    first, _ = two_sightings(db)
    db.sightings.update_one(
        {"reference": first}, {"$set": {"place": {"text": "planted", "latitude": 1, "longitude": 2}}}
    )
    db.counters.delete_one({"_id": MIGRATIONS_DONE})
    assert seal_every_value(db)  # the next start: the database already held bound values, so it seals nothing
    assert "seal_every_value" in db.counters.find_one({"_id": MIGRATIONS_DONE})["done"]
    with pytest.raises(SealError, match="an unsealed sighting-place"):
        find_sighting(db, first)


# Sealed values bound to their record ------------------------------------------------------------------------


def test_a_place_copied_from_another_sighting_does_not_open_there(db: Database) -> None:
    first, second = two_sightings(db)
    copied = db.sightings.find_one({"reference": first})["place"]
    db.sightings.update_one({"reference": second}, {"$set": {"place": copied}})
    assert find_sighting(db, first)["place"] == SOL  # type: ignore[index]
    with pytest.raises(SealError, match=r"for another record than .*: copied from another document"):
        find_sighting(db, second)


def test_a_photo_or_its_gps_copied_into_another_photo_does_not_open_there(db: Database, faces_dir: Path) -> None:
    sent = phone_jpeg(faces_dir / "lfw/Colin_Powell/Colin_Powell_0001.jpg")
    first = save_photo(db, sent, Owner("draft", "telegram:1")).id
    second = save_photo(db, b"\xff\xd8 another photo", Owner("draft", "telegram:2")).id
    assert photo_location(db, Owner("draft", "telegram:1")) is not None
    kept = find_photo(db, first)
    db.photos.update_one({"_id": second}, {"$set": {"exif_location": kept["exif_location"]}})
    with pytest.raises(SealError, match="another record"):
        photo_location(db, Owner("draft", "telegram:2"))
    db.photos.update_one({"_id": second}, {"$set": {"file_id": kept["file_id"]}})
    with pytest.raises(SealError, match="another record"):
        photo_bytes(db, find_photo(db, second))
    assert photo_bytes(db, kept)[:2] == b"\xff\xd8"  # the original still opens where it belongs


def test_an_encoding_copied_into_another_face_does_not_open_there(db: Database, faces_dir: Path) -> None:
    first, second = faces_of_two_photos(db, faces_dir)
    db.faces.update_one({"_id": second["_id"]}, {"$set": {"encoding": first["encoding"]}})
    assert stored_vector(first).shape == (128,)
    with pytest.raises(SealError, match="another record"):
        stored_vector(db.faces.find_one({"_id": second["_id"]}))
