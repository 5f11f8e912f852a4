"""The face pipeline on real photos: everyone in a group is found, and phones' habits don't change who they are."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from core.faces.analysis import analyse_photo
from core.faces.model import distance
from tests import photo_files

EXAMPLES = "small/face_recognition_examples"
REFERENCES = {
    "Barack_Obama": f"{EXAMPLES}/Barack_Obama",
    "Joe_Biden": f"{EXAMPLES}/Joe_Biden",
    "Kit_Harington": f"{EXAMPLES}/Kit_Harington",
    "Rose_Leslie": f"{EXAMPLES}/Rose_Leslie",
    "Angelina_Jolie": "small/deepface_unit/Angelina_Jolie",
    **{
        name: f"small/faceapi_bbt/{name}"
        for name in ("amy", "bernadette", "howard", "leonard", "penny", "raj", "sheldon")
    },
}
# Who is in each group photo, checked by eye (others may stand in the background).
GROUPS = {
    "obama_and_biden": ["Barack_Obama", "Joe_Biden"],
    "two_people": ["Barack_Obama", "Joe_Biden"],
    "kit_with_rose": ["Kit_Harington", "Rose_Leslie"],
    "deepface_couple": ["Angelina_Jolie"],
    "bbt1": ["raj", "leonard", "howard", "sheldon"],
    "bbt2": ["leonard", "sheldon"],
    "bbt3": ["sheldon", "howard", "penny", "raj", "leonard"],
    "bbt4": ["amy", "raj", "bernadette", "leonard", "penny", "sheldon"],
    "bbt5": ["raj", "penny", "sheldon", "leonard", "howard"],
}
SAME_PERSON = 0.6  # face_recognition's usual tolerance


@pytest.fixture(scope="module")
def references(faces_dir: Path) -> dict[str, np.ndarray]:
    """Each person's encodings from their single-face photos."""
    found = {}
    for name, folder in REFERENCES.items():
        encodings = []
        for path in sorted((faces_dir / folder).iterdir()):
            if "partial" in path.name:
                continue
            faces = analyse_photo(path.read_bytes()).faces
            if len(faces) == 1:
                encodings.append(faces[0].encoding)
        found[name] = np.array(encodings)
    return found


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_every_labelled_face_in_a_group_photo_is_found(
    faces_dir: Path, references: dict[str, np.ndarray], group: str
) -> None:
    faces = analyse_photo((faces_dir / "groups" / f"{group}.jpg").read_bytes()).faces
    claimed: dict[int, str] = {}
    for person in GROUPS[group]:
        distances = [float(np.min(np.linalg.norm(references[person] - face.encoding, axis=1))) for face in faces]
        best = int(np.argmin(distances))
        assert distances[best] < SAME_PERSON, f"{person} not found in {group}: nearest face at {distances[best]:.2f}"
        assert best not in claimed, f"{person} and {claimed.get(best)} matched the same face in {group}"
        claimed[best] = person


def test_exif_rotated_copy_gives_the_same_encoding(faces_dir: Path) -> None:
    """A sideways phone photo encodes like the same pixels turned upright by hand."""
    upright = Image.open(faces_dir / f"{EXAMPLES}/Barack_Obama/obama.jpg").convert("RGB")
    sideways = photo_files.sideways_jpeg(upright)
    stored_pixels = Image.open(io.BytesIO(sideways))  # as written, ignoring the EXIF tag
    turned_by_hand = photo_files.png(stored_pixels.transpose(Image.Transpose.ROTATE_270))
    by_exif = analyse_photo(sideways).faces
    by_hand = analyse_photo(turned_by_hand).faces
    assert len(by_exif) == len(by_hand) == 1
    assert distance(by_exif[0].encoding, by_hand[0].encoding) < 0.05
    assert by_exif[0].box == by_hand[0].box  # boxes are in upright coordinates


def test_jpeg_at_quality_30_still_matches_its_original(faces_dir: Path) -> None:
    path = faces_dir / "small/deepface_unit/Angelina_Jolie"
    original_bytes = sorted(path.iterdir())[0].read_bytes()
    original = analyse_photo(original_bytes).faces
    squashed = analyse_photo(photo_files.jpeg(Image.open(io.BytesIO(original_bytes)).convert("RGB"), quality=30)).faces
    assert len(original) == len(squashed) == 1
    assert distance(original[0].encoding, squashed[0].encoding) < 0.45


def test_a_40_pixel_face_in_a_2000_pixel_photo_is_found(faces_dir: Path) -> None:
    """Small faces far from the camera: the case upsampling exists for."""
    face = Image.open(faces_dir / f"{EXAMPLES}/Barack_Obama/obama.jpg").convert("RGB")
    box = analyse_photo(photo_files.jpeg(face)).faces[0].box
    scale = 48 / (box[2] - box[0])  # the detected face becomes ~48 px tall
    small = face.resize((round(face.width * scale), round(face.height * scale)), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (2000, 1500), (120, 130, 140))
    canvas.paste(small, (1400, 900))
    faces = analyse_photo(photo_files.jpeg(canvas)).faces
    assert len(faces) == 1
    assert 35 <= faces[0].size_px <= 60


def test_no_face_is_reported_as_such() -> None:
    landscape = Image.fromarray(np.tile(np.linspace(0, 255, 640, dtype=np.uint8), (480, 1)), mode=None).convert("RGB")
    result = analyse_photo(photo_files.jpeg(landscape))
    assert result.faces == [] and result.verdict == "no_face"


def test_a_group_photo_is_several_faces_each_with_a_quality_verdict(faces_dir: Path) -> None:
    result = analyse_photo((faces_dir / "groups/bbt4.jpg").read_bytes())
    assert result.verdict == "several_faces"
    assert all(face.quality == "ok" and face.encoding.shape == (128,) for face in result.faces)
    lefts = [face.box[3] for face in result.faces]
    assert lefts == sorted(lefts)  # numbered left to right


def test_a_blurred_face_is_judged_blurred(faces_dir: Path) -> None:
    sharp = Image.open(faces_dir / f"{EXAMPLES}/Barack_Obama/obama.jpg").convert("RGB")
    blurred = analyse_photo(photo_files.jpeg(sharp.filter(ImageFilter.GaussianBlur(6)))).faces
    assert analyse_photo(photo_files.jpeg(sharp)).faces[0].quality == "ok"
    assert [face.quality for face in blurred] == ["blurred"]
