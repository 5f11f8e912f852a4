"""Photos and clips as people really send them: HEIC/AVIF files, short videos, phones held sideways."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from config import Settings
from core.errors import PhotoRejected
from core.faces import model as face_model
from core.faces.analysis import analyse_photo
from core.faces.images import decode_photo, turn
from core.faces.video import MAX_FRAME_SIDE, analyse_video
from storage.connections import Connections
from storage.erasure import erase_everything
from storage.photos import photo_bytes
from tests.chat_harness import Harness
from workers import jobs
from workers.reconciler import reconcile

CASE_PHOTO = "Colin_Powell_0001"
CLIP_PHOTOS = [f"Colin_Powell_{n:04d}" for n in range(2, 12)]  # ten other photos of him: one second each


@pytest.fixture
def harness(settings: Settings, connections: Connections) -> Harness:
    return Harness(settings, connections)


def lfw(faces_dir: Path, name: str) -> Path:
    return faces_dir / "lfw" / name.rsplit("_", 1)[0] / f"{name}.jpg"


def heic(path: Path) -> bytes:
    out = io.BytesIO()
    Image.open(path).convert("RGB").save(out, "HEIF", quality=90)
    return out.getvalue()


def clip(tmp_path: Path, photos: list[Path], seconds_each: float = 1.0, fps: int = 5, side: int = 400) -> bytes:
    """An mp4 showing each photo in turn, all resized to one frame size, as a phone clip panning over people."""
    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (side, side))
    for photo in photos:
        frame = cv2.resize(cv2.imread(str(photo)), (side, side), interpolation=cv2.INTER_CUBIC)
        for _ in range(round(fps * seconds_each)):
            writer.write(frame)
    writer.release()
    return path.read_bytes()


def send(harness: Harness, user: str, text: str = "", file: tuple[bytes, str, str] | None = None) -> None:
    """Post as the simulator page does; `file` is (bytes, file name, mime type)."""
    page = harness.client.get("/simulator/").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    data: dict[str, Any] = {"user": user, "text": text}
    if file is not None:
        data["file"] = (io.BytesIO(file[0]), file[1], file[2])
    answer = harness.client.post(
        "/simulator/send", data=data, headers={"X-CSRFToken": token}, content_type="multipart/form-data"
    )
    assert answer.status_code == 200
    harness.work()


def start_report(harness: Harness, user: str, name: str) -> None:
    for text in ("hi", "yes", "1", name, "60", "skip", "Leeds", "yesterday", "skip"):
        send(harness, user, text)


def report_case(harness: Harness, user: str, name: str, photo: tuple[bytes, str, str]) -> str:
    start_report(harness, user, name)
    send(harness, user, file=photo)
    send(harness, user, "done")
    send(harness, user, "yes")
    return str(harness.db.cases.find_one({"reporter": f"simulator:{user}"})["reference"])


def report_sighting(
    harness: Harness,
    user: str,
    file: tuple[bytes, str, str],
    answers: tuple[str, ...] = ("Leeds station", "now", "skip"),
) -> str | None:
    for text in ("hi", "yes"):
        send(harness, user, text)
    send(harness, user, file=file)
    for text in answers:
        send(harness, user, text)
    found = harness.db.sightings.find_one({"reporter": f"simulator:{user}"})
    return str(found["reference"]) if found else None


def said_to(harness: Harness, user: str) -> list[str]:
    return [m["text"] for m in harness.db.outbox.find({"contact": f"simulator:{user}"}).sort("seq", 1)]


# HEIC and AVIF ---------------------------------------------------------------------------------------------


def test_heic_and_avif_decode_like_the_same_jpeg(faces_dir: Path) -> None:
    source = lfw(faces_dir, CASE_PHOTO)
    jpeg = decode_photo(source.read_bytes())
    avif = io.BytesIO()
    Image.open(source).save(avif, "AVIF", quality=90)
    for data, kind in ((heic(source), "HEIF"), (avif.getvalue(), "AVIF")):
        photo = decode_photo(data)
        assert photo.format == kind and photo.rgb.shape == jpeg.rgb.shape and photo.rgb.dtype == np.uint8
        assert np.abs(photo.rgb.astype(int) - jpeg.rgb.astype(int)).mean() < 8  # the same picture, lossy twice


def test_a_heic_photo_keeps_the_size_limits(faces_dir: Path) -> None:
    data = heic(lfw(faces_dir, CASE_PHOTO))
    for limits, reason in (
        ({"max_bytes": len(data) - 1}, "too_large_file"),
        ({"max_pixels": 250 * 249}, "too_many_pixels"),
    ):
        with pytest.raises(PhotoRejected) as caught:
            decode_photo(data, **limits)
        assert caught.value.reason == reason


def test_a_heic_photo_of_a_labelled_person_matches_their_case(harness: Harness, faces_dir: Path) -> None:
    case = report_case(
        harness, "family", "Colin Powell", (heic(lfw(faces_dir, CASE_PHOTO)), "IMG_0001.HEIC", "image/heic")
    )
    assert harness.db.photos.find_one({"owner.id": case})["format"] == "HEIF"
    seen = report_sighting(harness, "citizen", (lfw(faces_dir, CLIP_PHOTOS[0]).read_bytes(), "s.jpg", "image/jpeg"))
    assert [(c["case"], c["sighting"]) for c in harness.db.candidates.find()] == [(case, seen)]


# Sideways photos -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("turned", [Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_270])
def test_a_sideways_photo_without_exif_still_finds_its_face(faces_dir: Path, turned: Image.Transpose) -> None:
    upright_image = Image.open(lfw(faces_dir, CASE_PHOTO)).convert("RGB")
    out = io.BytesIO()
    upright_image.transpose(turned).save(out, "JPEG", quality=95)  # no EXIF orientation to say which way is up
    upright = analyse_photo(lfw(faces_dir, CASE_PHOTO).read_bytes())
    sideways = analyse_photo(out.getvalue())
    assert sideways.verdict == "one_face" and sideways.rotation in (90, 270)
    distance = np.linalg.norm(sideways.faces[0].encoding - upright.faces[0].encoding)
    assert distance < 0.4
    # The box is in the turned photo, which is what crops for reviewers turn the stored photo to.
    shown = turn(decode_photo(out.getvalue()).rgb, sideways.rotation)
    again = face_model.encode(shown, [sideways.faces[0].box])[0]
    assert np.linalg.norm(again - upright.faces[0].encoding) < 0.4


def test_a_photo_with_no_face_in_any_turn_says_so(faces_dir: Path) -> None:
    empty = io.BytesIO()
    Image.new("RGB", (300, 200), (90, 140, 200)).save(empty, "JPEG")
    result = analyse_photo(empty.getvalue())
    assert result.verdict == "no_face" and result.rotation == 0
    assert {"sideways_90", "sideways_270"} <= set(result.timings_ms)


# Videos ----------------------------------------------------------------------------------------------------


def test_a_ten_second_clip_of_a_labelled_person_becomes_a_sighting_of_their_case(
    harness: Harness, faces_dir: Path, tmp_path: Path
) -> None:
    case = report_case(
        harness, "family", "Colin Powell", (lfw(faces_dir, CASE_PHOTO).read_bytes(), "c.jpg", "image/jpeg")
    )
    video = clip(tmp_path, [lfw(faces_dir, name) for name in CLIP_PHOTOS])
    seen = report_sighting(harness, "citizen", (video, "clip.mp4", "video/mp4"))
    assert seen is not None
    stored = harness.db.photos.find_one({"owner.id": seen, "content_type": "video/mp4"})
    assert stored["status"] == "analysed" and stored["video"]["frames_sampled"] >= 18
    frames = list(harness.db.photos.find({"owner.id": seen, "video_id": stored["_id"]}))
    assert 1 <= len(frames) <= 10 and all(f["status"] == "analysed" for f in frames)
    assert harness.db.faces.count_documents({"owner.id": seen}) == stored["face_count"] <= 10
    candidates = list(harness.db.candidates.find({"sighting": seen}))
    assert candidates and {c["case"] for c in candidates} == {case}
    assert {c["sighting_photo_id"] for c in candidates} <= {f["_id"] for f in frames}  # reviewers see a frame
    assert decode_photo(photo_bytes(harness.db, frames[0])).format == "JPEG"


def test_a_corrupt_video_and_a_forty_second_one_get_clear_replies(
    harness: Harness, faces_dir: Path, tmp_path: Path
) -> None:
    whole = clip(tmp_path, [lfw(faces_dir, CLIP_PHOTOS[0])], seconds_each=2)
    report_sighting(harness, "shaky", (whole[: len(whole) // 3], "broken.mp4", "video/mp4"))
    assert any("couldn't open that video" in text for text in said_to(harness, "shaky"))
    long = clip(tmp_path, [lfw(faces_dir, name) for name in CLIP_PHOTOS[:4]], seconds_each=10, fps=2, side=120)
    report_sighting(harness, "patient", (long, "long.mp4", "video/mp4"))
    assert any("too long" in text and "30 seconds" in text for text in said_to(harness, "patient"))
    assert harness.db.faces.count_documents({}) == 0


def test_a_family_is_asked_for_photos_not_a_video(harness: Harness, faces_dir: Path, tmp_path: Path) -> None:
    start_report(harness, "family", "Colin Powell")
    send(harness, "family", file=(clip(tmp_path, [lfw(faces_dir, CASE_PHOTO)], fps=2, side=120), "c.mp4", "video/mp4"))
    assert "please send photos, not a video" in said_to(harness, "family")[-1]
    assert harness.db.photos.count_documents({}) == 0


# Erasure during a clip's analysis --------------------------------------------------------------------------


def erase_after_sampling(harness: Harness, contact: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`delete my data` arrives while the clip's frames are sampled, before they are stored."""
    sample = jobs.analyse_video

    def sample_then_erase(*args: Any, **kwargs: Any) -> Any:
        result = sample(*args, **kwargs)
        assert result.frames
        erase_everything(harness.db, contact)
        return result

    monkeypatch.setattr(jobs, "analyse_video", sample_then_erase)


def clip_of_colin(faces_dir: Path, tmp_path: Path) -> tuple[bytes, str, str]:
    return clip(tmp_path, [lfw(faces_dir, name) for name in CLIP_PHOTOS[:3]]), "clip.mp4", "video/mp4"


def test_a_contact_erased_while_their_clip_is_analysed_leaves_no_frames_nor_faces(
    harness: Harness, faces_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    erase_after_sampling(harness, "simulator:citizen", monkeypatch)
    for text in ("hi", "yes"):
        send(harness, "citizen", text)
    send(harness, "citizen", file=clip_of_colin(faces_dir, tmp_path))
    assert [harness.db[name].count_documents({}) for name in ("photos", "faces", "photo_files.files")] == [0, 0, 0]


def test_frames_of_a_clip_erased_while_its_job_died_are_swept_by_the_reconciler(
    harness: Harness, faces_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    erase_after_sampling(harness, "simulator:citizen", monkeypatch)

    def dies(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the work horse was killed")  # after storing the frames, before recording the clip

    monkeypatch.setattr(jobs, "_video_record", dies)
    for text in ("hi", "yes"):
        send(harness, "citizen", text)
    send(harness, "citizen", file=clip_of_colin(faces_dir, tmp_path))
    assert harness.db.faces.count_documents({}) > 0  # the frames outlived their clip...
    assert reconcile(harness.context, datetime.now(UTC) + timedelta(minutes=1))["orphan_faces"] > 0
    # ...until the reconciler passed
    assert [harness.db[name].count_documents({}) for name in ("photos", "faces", "photo_files.files")] == [0, 0, 0]


def test_a_large_clips_frames_are_scaled_down_as_they_are_read(faces_dir: Path, tmp_path: Path) -> None:
    """A clip's memory is bounded by MAX_FRAME_SIDE, not by its size: the faces are still found in the smaller frame."""
    person = faces_dir / "lfw/Colin_Powell/Colin_Powell_0001.jpg"
    result = analyse_video(clip(tmp_path, [person], seconds_each=1.0, fps=2, side=1600))
    assert result.frames, "the face is found in the scaled frame"
    assert all(max(frame.rgb.shape[:2]) == MAX_FRAME_SIDE for frame in result.frames)
