"""The evaluation's own arithmetic and parsing, on data whose answers are known."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.faces.engines import ENGINES
from core.faces.quality import judge
from evaluation import aliases
from evaluation.dataset import read_pairs
from evaluation.degrade import degrade
from evaluation.embed import pipeline_fingerprint
from evaluation.metrics import MISSING, best_threshold, identification_summary, kfold_accuracy, search


def test_view_2_and_view_1_pairs_files_are_read(tmp_path: Path) -> None:
    view2 = tmp_path / "pairs.txt"
    view2.write_text("2\t1\nAnn\t1\t2\nBob\t1\tCid\t3\nDee\t2\t4\nEve\t1\tFay\t1\n")
    pairs = read_pairs(view2)
    assert [(p.fold, p.same) for p in pairs] == [(0, True), (0, False), (1, True), (1, False)]
    assert pairs[1].first == "Bob/Bob_0001.jpg" and pairs[1].second == "Cid/Cid_0003.jpg"
    view1 = tmp_path / "dev.txt"
    view1.write_text("1\nAnn\t1\t2\nBob\t1\tCid\t3\n")
    assert [p.fold for p in read_pairs(view1)] == [0, 0]
    view1.write_text("2\nAnn\t1\t2\n")
    with pytest.raises(ValueError, match="expected 4 pairs"):
        read_pairs(view1)


def test_the_threshold_separates_separable_pairs() -> None:
    distances = np.array([0.2, 0.3, 0.35, 0.7, 0.8, 0.9])
    same = np.array([True, True, True, False, False, False])
    threshold = best_threshold(distances, same)
    assert 0.35 < threshold < 0.7


def test_kfold_learns_on_other_folds_and_reports_each() -> None:
    rng = np.random.default_rng(3)
    distances = np.concatenate([rng.normal(0.4, 0.05, 300), rng.normal(0.8, 0.05, 300)])
    same = np.array([True] * 300 + [False] * 300)
    folds = np.arange(600) % 10
    distances[0] = 0.95  # one same pair that looks different: exactly one error in fold 0
    result = kfold_accuracy(distances, same, folds)
    assert result["folds"][0] == pytest.approx(59 / 60) and all(a == 1.0 for a in result["folds"][1:])
    assert result["mean"] == pytest.approx(1 - 1 / 600)


def test_identification_counts_ranks_misses_and_false_candidates() -> None:
    gallery = np.eye(4, 128, dtype=np.float32)  # identities a, b, c, d at distance sqrt(2) from each other
    ids = np.array(["a", "b", "c", "d"])
    near_a = gallery[0] + np.float32(0.1)  # a mated search that finds a first
    far = np.full(128, 5.0, dtype=np.float32)  # a search far from everyone
    probes = [near_a, None, gallery[1], far]
    probe_ids = np.array(["a", "c", "b", "e"])
    mated = np.array([True, True, False, False])  # 'b' here is a non-mated search: b is masked out
    result = identification_summary(search(gallery, ids, probes, probe_ids, mated, top_k=2), {"review": 1.2}, (0.5,))
    assert result["rank1"] == 0.5  # a found first; c's photo had no face
    band = result["bands"]["review"]
    assert band["fnir"] == 0.5 and band["fpir"] == 0.0  # masked b is sqrt(2) from the rest: no candidate at 1.2
    assert band["precision"] == 1.0 and band["recall"] == 0.5
    assert result["fnir_at_fpir"]["50.0%"]["fpir"] <= 0.5


def test_missing_distances_never_count_as_candidates() -> None:
    result = identification_summary(
        search(np.eye(2, 128, dtype=np.float32), np.array(["a", "b"]), [None], np.array(["z"]), np.array([False]), 2),
        {"review": 10.0},
        (),
    )
    assert result["bands"]["review"]["false_candidates_per_1000_searches"] == 0.0 and np.inf == MISSING


@pytest.mark.parametrize(
    ("variant", "size"),
    [
        ("whatsapp", (200, 100)),
        ("half", (100, 50)),
        ("rotated", (100, 200)),
        ("face32", (64, 32)),
        ("face16", (32, 16)),
    ],
)
def test_degradations_change_the_file_as_a_phone_would(variant: str, size: tuple[int, int]) -> None:
    source = io.BytesIO()
    Image.new("RGB", (200, 100), (200, 30, 30)).save(source, "JPEG", quality=95)
    degraded = Image.open(io.BytesIO(degrade(source.getvalue(), variant)))
    assert degraded.size == size
    if variant == "rotated":
        assert degraded.getexif()[0x0112] == 6  # stored sideways, tagged to be turned back


def test_a_case_with_several_photos_is_scored_by_its_closest_one() -> None:
    gallery = np.stack([np.eye(1, 128, 0)[0], np.eye(1, 128, 1)[0], np.eye(1, 128, 2)[0]]).astype(np.float32)
    ids = np.array(["a", "a", "b"])  # a has two photos
    probe = np.eye(1, 128, 1)[0].astype(np.float32)  # identical to a's second photo
    found = search(gallery, ids, [probe], np.array(["a"]), np.array([True]), top_k=2)
    assert found.mate_rank[0] == 1 and found.mate_distance[0] == pytest.approx(0.0)
    assert list(found.mated_top_is_mate[0]) == [True, False]  # a once, then b: identities, not photos


def test_lfw_aliases_make_one_person_one_identity() -> None:
    people = {
        "Carlos_Ruckauf": ["Carlos_Ruckauf/Carlos_Ruckauf_0001.jpg"],
        "Choi_Sung-hong": ["Choi_Sung-hong/Choi_Sung-hong_0001.jpg", "Choi_Sung-hong/Choi_Sung-hong_0002.jpg"],
        "Eduardo_Duhalde": ["Eduardo_Duhalde/Eduardo_Duhalde_0001.jpg"],
        "Sung_Hong_Choi": ["Sung_Hong_Choi/Sung_Hong_Choi_0001.jpg"],
        "Mary_Kate_Olsen": ["Mary_Kate_Olsen/Mary_Kate_Olsen_0001.jpg"],
        "Ashley_Olsen": ["Ashley_Olsen/Ashley_Olsen_0001.jpg"],
        "Nan_Wang": ["Nan_Wang/Nan_Wang_0001.jpg"],  # its other name is absent here: left alone
    }
    merged, counts = aliases.merge(people)
    assert merged["Eduardo_Duhalde"] == [
        "Eduardo_Duhalde/Eduardo_Duhalde_0001.jpg",  # the own first photo stays the case's photo
        "Carlos_Ruckauf/Carlos_Ruckauf_0001.jpg",
    ]
    assert merged["Choi_Sung-hong"][-1] == "Sung_Hong_Choi/Sung_Hong_Choi_0001.jpg"
    assert "Carlos_Ruckauf" not in merged and "Sung_Hong_Choi" not in merged
    assert {"Mary_Kate_Olsen", "Ashley_Olsen", "Nan_Wang"} <= set(merged)  # twins stay two people
    assert counts == {"photos_moved": 2, "identities_merged": 2}
    assert sorted(p for photos in merged.values() for p in photos) == sorted(p for ps in people.values() for p in ps)


def test_the_embedding_cache_keeps_each_dlib_detector_apart() -> None:
    assert pipeline_fingerprint("dlib", None, "hog") != pipeline_fingerprint("dlib", None, "retinaface")
    assert pipeline_fingerprint("dlib") == pipeline_fingerprint("dlib", None, "hog")


def test_each_engine_refuses_faces_below_its_own_measured_size() -> None:
    """`eval face-size`: arcface still matches a 30 px face (dlib does not below 40), so each has its own minimum."""
    assert judge(34, 50.0, ENGINES["arcface"].min_face_px).quality == "ok"
    assert judge(34, 50.0, ENGINES["dlib"].min_face_px).quality == "too_small"
    assert "at least 40 px" in judge(34, 50.0, ENGINES["dlib"].min_face_px).reason
    assert judge(29, 50.0, ENGINES["arcface"].min_face_px).quality == "too_small"
