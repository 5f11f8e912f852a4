"""Encryption at rest: photos and face encodings sealed, EXIF GPS read then stripped, `homeward rotate-key`."""

from __future__ import annotations

import io
import os
import re
import stat
from pathlib import Path

import gridfs
import numpy as np
import pytest
from bson import Binary, ObjectId
from click.testing import CliRunner
from PIL import Image, PngImagePlugin
from pymongo.database import Database

from cli.main import group
from config import ConfigError, Settings, load_settings
from config.keys import KEY_FILE_NAME, DataKeys, key_text, new_key, write_keys
from core.faces.analysis import analyse_photo
from core.faces.images import decode_photo
from core.faces.metadata import clean_photo
from storage.cases import find_sighting
from storage.connections import Connections
from storage.faces import faces_of_photo, store_faces, stored_vector, vector_to_bytes
from storage.photos import Owner, find_photo, photo_bytes, save_photo
from storage.rotation import not_under_current_key
from storage.schema import MIGRATIONS_DONE, PHOTO_BUCKET
from storage.sealing import FACE_ENCODING, PHOTO, SIGHTING_PLACE, Keyring, SealError, key_id, keyring, use_keys
from storage.sealing_migration import seal_every_value
from storage.users import create_user
from tests.chat_harness import Harness
from tests.conftest import make_environment
from tests.test_admin_access import PASSWORD, login
from tests.test_cli import env_of
from tests.test_reach_faces import lfw, report_case, report_sighting, said_to

IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"RIFF")
LEEDS = {1: "N", 2: (53.0, 47.0, 42.0), 3: "W", 4: (1.0, 32.0, 24.0)}  # 53.795, -1.54 as a phone writes it


@pytest.fixture
def environment(servers, tmp_path: Path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return make_environment(servers, tmp_path)


def phone_jpeg(path: Path, gps: dict[int, object] | None = LEEDS) -> bytes:
    """A photo as a phone writes it: GPS, maker, a comment."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    if gps is not None:
        exif[0x8825] = gps
    out = io.BytesIO()
    Image.open(path).convert("RGB").save(out, "JPEG", quality=95, exif=exif, comment=b"at grandma's house")
    return out.getvalue()


def stored_file(db: Database, photo_id: object) -> bytes:
    """A photo's bytes exactly as GridFS holds them, chunk by chunk."""
    file_id = db.photos.find_one({"_id": photo_id})["file_id"]
    chunks = db[f"{PHOTO_BUCKET}.chunks"].find({"files_id": file_id}).sort("n", 1)
    return b"".join(chunk["data"] for chunk in chunks)


def rotate(settings: Settings) -> str:
    result = CliRunner().invoke(group, ["rotate-key"], env=env_of(settings))
    assert result.exit_code == 0, result.output
    return result.output


# What is stored ---------------------------------------------------------------------------------------------


def test_gridfs_holds_no_jpeg_or_png_and_the_photo_reads_back(db: Database, faces_dir: Path) -> None:
    person = lfw(faces_dir, "Colin_Powell_0001")
    jpeg = person.read_bytes()
    png = io.BytesIO()
    Image.open(person).save(png, "PNG")
    for data in (jpeg, png.getvalue()):
        saved = save_photo(db, data, Owner("case", "HW-SEAL"))
        raw = stored_file(db, saved.id)
        assert not raw.startswith(IMAGE_MAGIC) and raw.startswith(b"HWD")
        assert data[len(data) // 2 : len(data) // 2 + 64] not in raw  # no stretch of the picture in the clear
        assert np.array_equal(decode_photo(photo_bytes(db, find_photo(db, saved.id))).rgb, decode_photo(data).rgb)


def test_encodings_are_sealed_and_read_back_as_plain_vectors(db: Database, faces_dir: Path) -> None:
    data = (faces_dir / "groups/two_people.jpg").read_bytes()
    saved = save_photo(db, data, Owner("sighting", "S-SEAL"))
    analysis = analyse_photo(data)
    store_faces(db, find_photo(db, saved.id), analysis)
    for face, found in zip(faces_of_photo(db, saved.id), analysis.faces, strict=True):
        assert bytes(face["encoding"]) != bytes(vector_to_bytes(found.encoding))
        assert np.array_equal(stored_vector(face), found.encoding)


def test_an_altered_or_foreign_value_is_refused_saying_why(tmp_path: Path) -> None:
    ours, theirs = Keyring(DataKeys((new_key(),), None)), Keyring(DataKeys((new_key(),), None))
    sealed = ours.seal(b"\x00" * 512, FACE_ENCODING)
    altered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SealError, match="altered"):
        ours.open(altered, FACE_ENCODING)
    with pytest.raises(SealError, match="altered, or sealed for another use"):
        ours.open(sealed, PHOTO)
    with pytest.raises(SealError, match="HOMEWARD_DATA_KEY"):
        theirs.open(sealed, FACE_ENCODING)


# Keys -------------------------------------------------------------------------------------------------------


def test_the_key_is_generated_once_private_and_a_bad_one_is_named(tmp_path: Path) -> None:
    env = {"HOMEWARD_DATA_DIR": str(tmp_path), "HOMEWARD_SECRET_KEY": "x"}
    first = load_settings(env).data_keys()
    assert first.file == tmp_path / KEY_FILE_NAME
    assert stat.S_IMODE(os.stat(first.file).st_mode) == 0o600
    assert load_settings(env).data_keys().keys == first.keys  # kept, not made again
    two = f"{key_text(new_key())}\n{key_text(first.keys[0])}\n"
    (tmp_path / "keys.txt").write_text(two)
    from_file = load_settings(env | {"HOMEWARD_DATA_KEY_FILE": str(tmp_path / "keys.txt")}).data_keys()
    assert from_file.file is None and from_file.keys[1] == first.keys[0]
    with pytest.raises(ConfigError, match=r"HOMEWARD_DATA_KEY: key 1 is not 32 bytes in base64; make one with"):
        load_settings(env | {"HOMEWARD_DATA_KEY": "hunter2"})
    assert "hunter2" not in repr(load_settings(env | {"HOMEWARD_DATA_KEY": key_text(b"k" * 32)}))


# EXIF -------------------------------------------------------------------------------------------------------


def test_gps_is_read_and_every_metadata_block_dropped_pixels_untouched(faces_dir: Path) -> None:
    person = lfw(faces_dir, "Colin_Powell_0001")
    sent = phone_jpeg(person)
    clean = clean_photo(sent)
    assert clean.location == pytest.approx((53.795, -1.54))
    kept = Image.open(io.BytesIO(clean.data))
    assert not kept.getexif() and "comment" not in kept.info
    assert b"PhoneMaker" not in clean.data and b"grandma" not in clean.data
    assert np.array_equal(decode_photo(clean.data).rgb, decode_photo(sent).rgb)

    exif = Image.Exif()
    exif[0x0112] = 6  # held sideways: the one tag kept, so the photo still shows upright
    exif[0x8825] = LEEDS
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "at grandma's house")
    png = io.BytesIO()
    Image.open(person).save(png, "PNG", pnginfo=text, exif=exif)
    clean = clean_photo(png.getvalue())
    assert clean.location == pytest.approx((53.795, -1.54)) and b"grandma" not in clean.data
    assert dict(Image.open(io.BytesIO(clean.data)).getexif()) == {0x0112: 6}
    assert np.array_equal(decode_photo(clean.data).rgb, decode_photo(png.getvalue()).rgb)

    heic = io.BytesIO()
    Image.open(person).save(heic, "HEIF", exif=exif.tobytes())  # an iPhone's photo: re-encoded, upright, bare
    clean = clean_photo(heic.getvalue())
    assert clean.location == pytest.approx((53.795, -1.54)) and clean.content_type == "image/jpeg"
    assert not Image.open(io.BytesIO(clean.data)).getexif()
    assert decode_photo(clean.data).rgb.shape == decode_photo(heic.getvalue()).rgb.shape

    assert clean_photo(b"\xff\xd8 not really a jpeg").data == b"\xff\xd8 not really a jpeg"
    # Junk between two segments: a decoder skips it and still finds the EXIF, so the bytes cannot be kept.
    after_first = 4 + int.from_bytes(sent[4:6], "big")  # SOI, then the first segment's marker and length
    walked_badly = sent[:after_first] + b"\x00\x00" + sent[after_first:]
    assert Image.open(io.BytesIO(walked_badly)).getexif(), "the junk must not hide the EXIF from a decoder"
    clean = clean_photo(walked_badly)
    assert clean.location == pytest.approx((53.795, -1.54)) and clean.content_type == "image/jpeg"
    assert not Image.open(io.BytesIO(clean.data)).getexif() and b"PhoneMaker" not in clean.data
    assert (
        clean_photo(phone_jpeg(person, gps={1: "N", 2: (0.0, 0.0, 0.0), 3: "E", 4: (0.0, 0.0, 0.0)})).location is None
    )


# A whole run ------------------------------------------------------------------------------------------------


GPS_QUESTION = "Your photo holds the place where it was taken. Use it for this sighting? yes/no"


def colin_reported_then_sighted_with_gps(
    settings: Settings, connections: Connections, faces_dir: Path, answer: str
) -> tuple[Harness, str | None]:
    """A family reports Colin; a passer-by sights him from a photo holding a GPS place and answers with `answer`."""
    harness = Harness(settings, connections)
    report_case(harness, "family", "Colin", (lfw(faces_dir, "Colin_Powell_0001").read_bytes(), "c.jpg", "image/jpeg"))
    return harness, sight_with_gps(harness, faces_dir, answer)


def sight_with_gps(harness: Harness, faces_dir: Path, answer: str) -> str | None:
    """A passer-by's sighting from a phone photo taken at Leeds station, answering the GPS question with `answer`."""
    photo = (phone_jpeg(lfw(faces_dir, "Colin_Powell_0002")), "s.jpg", "image/jpeg")
    return report_sighting(harness, "passer", photo, ("Leeds station", "now", "skip", answer))


def approve_all(harness: Harness, exact_place: bool = False) -> list[str]:
    """A reviewer approves every candidate (ticking 'the exact place' when asked); what the family was then sent."""
    create_user(harness.db, "reviewer", PASSWORD, "reviewer")
    token = login(harness.client, "reviewer")
    for candidate in harness.db.candidates.find():  # the choice is offered for a place with coordinates only
        place = harness.db.sightings.find_one({"reference": candidate["sighting"]})["place"]
        offered = b'id="exact-place"' in harness.client.get(f"/candidates/{candidate['_id']}").data
        assert offered == ("sealed" in place)
    form = {"action": "approve", "csrf_token": token} | ({"exact_place": "1"} if exact_place else {})
    for candidate in harness.db.candidates.find():
        harness.client.post(f"/candidates/{candidate['_id']}/decide", data=form)
    harness.work()
    return [m["text"] for m in harness.db.outbox.find({"contact": "simulator:family"}).sort("seq", 1)]


def test_a_sighting_takes_its_photos_gps_after_a_yes_and_a_face_still_matches_after_rotate_key(
    settings: Settings, connections: Connections, faces_dir: Path
) -> None:
    harness = Harness(settings, connections)
    db = connections.db
    case = report_case(
        harness, "family", "Colin", (lfw(faces_dir, "Colin_Powell_0001").read_bytes(), "c.jpg", "image/jpeg")
    )
    seen = sight_with_gps(harness, faces_dir, "yes")
    assert GPS_QUESTION in said_to(harness, "passer")
    assert [(c["case"], c["sighting"]) for c in db.candidates.find()] == [(case, seen)]
    stored = db.sightings.find_one({"reference": seen})["place"]
    assert set(stored) == {"text", "from_photo", "sealed"} and bytes(stored["sealed"]).startswith(b"HWD")
    place = find_sighting(db, seen)["place"]  # type: ignore[index]
    assert place["text"] == "Leeds station" and (place["latitude"], place["longitude"]) == pytest.approx(
        (53.795, -1.54)
    )
    sighting_photo = db.photos.find_one({"owner.id": seen})
    assert b"PhoneMaker" not in photo_bytes(db, sighting_photo)
    assert "exif_location" not in sighting_photo  # the sighting holds the place now: the photo keeps none
    assert "exif_location" not in db.photos.find_one({"owner.id": case})  # a case keeps no place of its photos
    old_key = key_id(settings.data_keys().keys[0])

    output = rotate(settings)
    assert "new data key" in output and "faces 2/2" in output and "photos 2/2" in output
    assert "1 locations" in output  # the sighting's place

    keys = settings.data_keys()
    assert len(keys.keys) == 1 and key_id(keys.keys[0]) != old_key  # the old key is gone from the key file
    use_keys(keys)  # what a process started now reads with: the new key only
    for face in db.faces.find():
        assert bytes(face["encoding"])[4:8] == key_id(keys.keys[0])
    assert not_under_current_key(db, keyring()) == 0
    assert find_sighting(db, seen)["place"]["latitude"] == pytest.approx(53.795)  # type: ignore[index]
    again = Harness(settings, connections)  # a fresh gallery, loaded under the new key
    later = report_sighting(again, "another", (lfw(faces_dir, "Colin_Powell_0003").read_bytes(), "t.jpg", "image/jpeg"))
    assert (case, later) in [(c["case"], c["sighting"]) for c in db.candidates.find()]


def test_a_no_keeps_the_photos_gps_out_of_the_sighting_the_photo_and_the_familys_message(
    settings: Settings, connections: Connections, faces_dir: Path
) -> None:
    harness, seen = colin_reported_then_sighted_with_gps(settings, connections, faces_dir, "no")
    assert GPS_QUESTION in said_to(harness, "passer") and seen is not None
    assert harness.db.sightings.find_one({"reference": seen})["place"] == {"text": "Leeds station"}
    assert harness.db.photos.count_documents({"exif_location": {"$exists": True}}) == 0
    family = approve_all(harness)
    assert any("possible sighting of Colin" in text and "Leeds station" in text for text in family)
    assert not any(re.search(r"53[.,]7|-1[.,]5|openstreetmap", text) for text in family)
    everyone = [m.get("text") or "" for m in harness.db.outbox.find()]  # nor any other message kept in the outbox
    assert not any(re.search(r"53[.,]79|openstreetmap", text) for text in everyone)


def test_the_family_is_told_the_place_to_about_100_m_not_to_the_metre(
    settings: Settings, connections: Connections, faces_dir: Path
) -> None:
    harness, _ = colin_reported_then_sighted_with_gps(settings, connections, faces_dir, "yes")
    candidate = harness.db.candidates.find_one()
    told = next(text for text in approve_all(harness) if "possible sighting of Colin" in text)
    assert "53.795, -1.540" in told and "mlat=53.795&mlon=-1.540" in told
    assert not re.search(r"\d\.\d{4}", told)  # no fourth decimal anywhere: ~100 m, not the sender's doorstep
    assert b'id="exact-place"' not in harness.client.get(f"/candidates/{candidate['_id']}").data  # decided


def test_a_reviewer_may_give_the_family_the_exact_place(
    settings: Settings, connections: Connections, faces_dir: Path
) -> None:
    harness, _ = colin_reported_then_sighted_with_gps(settings, connections, faces_dir, "yes")
    candidate = harness.db.candidates.find_one()
    told = next(text for text in approve_all(harness, exact_place=True) if "possible sighting of Colin" in text)
    assert "53.79500, -1.54000" in told
    note = harness.db.audit_notes.find_one({"target": f"candidate:{candidate['_id']}"})
    assert note["detail"] == "exact place shared with the family"  # who chose it is on the record


def test_plain_and_unbound_values_of_older_versions_are_read_until_sealed_and_bound_at_start_up(
    settings: Settings, db: Database
) -> None:
    db.counters.update_one({"_id": MIGRATIONS_DONE}, {"$pull": {"done": "seal_every_value"}})  # an older database
    keys = use_keys(settings.data_keys())
    vector = np.random.default_rng(3).normal(size=128).astype(np.float32)
    file_id = gridfs.GridFSBucket(db, bucket_name=PHOTO_BUCKET).upload_from_stream("old", b"\xff\xd8 old photo")
    photo_id = db.photos.insert_one({"owner": {"kind": "case", "id": "HW-OLD"}, "file_id": file_id}).inserted_id
    db.faces.insert_one({"photo_id": photo_id, "index": 0, "encoding": vector_to_bytes(vector)})
    old_place = {"text": "Sol", "latitude": 40.41, "longitude": -3.7}
    db.sightings.insert_one({"reference": "SG-OLD", "place": old_place, "source": "old:1"})
    unbound = {"text": "Sol", "sealed": Binary(keys.seal(b"[40.41, -3.7]", SIGHTING_PLACE))}  # sealed, no record
    db.sightings.insert_one({"reference": "SG-V1", "place": unbound, "source": "old:2"})
    assert find_sighting(db, "SG-OLD")["place"] == find_sighting(db, "SG-V1")["place"] == old_place  # type: ignore[index]
    assert photo_bytes(db, find_photo(db, photo_id)) == b"\xff\xd8 old photo"
    assert np.array_equal(stored_vector(db.faces.find_one()), vector)

    assert seal_every_value(db)  # what the next start does, once
    assert stored_file(db, photo_id)[:4] == b"HWD\x02" and bytes(db.faces.find_one()["encoding"])[:4] == b"HWD\x02"
    assert photo_bytes(db, find_photo(db, photo_id)) == b"\xff\xd8 old photo"
    assert np.array_equal(stored_vector(db.faces.find_one()), vector)
    assert db[f"{PHOTO_BUCKET}.files"].count_documents({}) == 1  # the plain file is gone
    for reference in ("SG-OLD", "SG-V1"):
        assert set(db.sightings.find_one({"reference": reference})["place"]) == {"text", "sealed"}
        assert find_sighting(db, reference)["place"] == old_place  # type: ignore[index]
    rotate(settings)  # and a rotation keeps them bound
    use_keys(settings.data_keys()).all_sealed = True
    assert find_sighting(db, "SG-V1")["place"] == old_place  # type: ignore[index]
    assert np.array_equal(stored_vector(db.faces.find_one()), vector)


def test_an_interrupted_rotation_finishes_when_run_again(settings: Settings, db: Database) -> None:
    old = settings.data_keys()
    new = new_key()
    write_keys(old.file, (new, *old.keys))  # the first run wrote the new key, then stopped
    under_old, photo_id = Keyring(old), ObjectId()
    bucket = gridfs.GridFSBucket(db, bucket_name=PHOTO_BUCKET)
    file_id = bucket.upload_from_stream("p", under_old.seal(b"photo bytes", PHOTO, str(photo_id)))
    db.photos.insert_one({"_id": photo_id, "owner": {"kind": "case", "id": "HW-HALF"}, "file_id": file_id})
    # ...after writing a re-sealed copy of the photo, before pointing the record at it
    bucket.upload_from_stream("p", b"half done", metadata={"resealed_from": file_id})
    encoding = Binary(under_old.seal(b"\0" * 512, FACE_ENCODING, f"{photo_id}:dlib:0"))
    db.faces.insert_one({"photo_id": photo_id, "index": 0, "encoding": encoding})

    assert "finishing the rotation" in rotate(settings)
    assert settings.data_keys().keys == (new,)
    use_keys(settings.data_keys())
    assert photo_bytes(db, find_photo(db, photo_id)) == b"photo bytes"
    assert db[f"{PHOTO_BUCKET}.files"].count_documents({}) == 1  # neither the leftover copy nor the old file
    assert not stored_vector(db.faces.find_one()).any()
