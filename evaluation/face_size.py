"""How small a face each engine still matches: `homeward eval face-size`.

The gallery is every LFW identity's first photo, as it is; the probes are one other photo each of up to
PROBES people, scaled so their face is about N px across (evaluation/degrade.py `faceN`). For each size:
how many faces were found at all, how many passed the service's quality gate (core/faces/quality.py), and
FNIR at the review band two ways: as the service works today (a gated face is never searched), and with the
gate lifted (would the engine have matched it?). Where the second stays low, the gate refuses faces the
engine would have matched; where it rises, the gate is right.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.degrade import FACE_SIZES
from evaluation.embed import Embedded, EmbeddingCache, embed_all
from evaluation.policies import nearest_cases
from evaluation.runs import centre_face, split_identities, subject_face

PROBES = 600


def face_size(folder: Path, cache: EmbeddingCache, review: float, top_k: int, seed: int) -> dict[str, Any]:
    """Per face size: found, passed the gate, FNIR at the review band gated and ungated, the median box."""
    people, _, _, order = split_identities(folder, 0.1, seed, False)
    firsts = embed_all(folder, [people[n][0] for n in sorted(people)], "original", cache, "cases")
    names = [n for n in sorted(people) if subject_face(firsts[people[n][0]]) is not None]
    cases = np.stack([subject_face(firsts[people[n][0]]) for n in names]).astype(np.float32)  # type: ignore[misc]
    chosen = [n for n in order if n in set(names) and len(people[n]) > 1][:PROBES]
    rng = random.Random(seed)
    probes = [(rng.choice(people[n][1:]), n) for n in chosen]
    rows: dict[str, Any] = {}
    for px in (*FACE_SIZES, None):
        variant = "original" if px is None else f"face{px}"
        embedded = embed_all(folder, [image for image, _ in probes], variant, cache, variant)
        rows[variant] = _row(embedded, probes, cases, np.array(names), cache.engine.metric, review, top_k)
    return {"engine": cache.engine.name, "probes": len(probes), "cases": len(names), "review": review, "sizes": rows}


def _row(
    embedded: dict[str, Embedded],
    probes: list[tuple[str, str]],
    cases: np.ndarray,
    names: np.ndarray,
    metric: str,
    review: float,
    top_k: int,
) -> dict[str, Any]:
    found, widths, gated, ungated = 0, [], [], []
    for image, _ in probes:
        result = embedded[image]
        centre = centre_face(result)
        found += centre is not None
        if centre is not None:
            left, right = result.boxes[centre][3], result.boxes[centre][1]
            widths.append(right - left)
        gated.append(subject_face(result))
        ungated.append(None if centre is None else result.encodings[centre])
    return {
        "found": found / len(probes),
        "passed_gate": sum(v is not None for v in gated) / len(probes),
        "median_face_px": float(np.median(widths)) if widths else 0.0,
        "fnir_gated": _fnir(gated, probes, cases, names, metric, review, top_k),
        "fnir_ungated": _fnir(ungated, probes, cases, names, metric, review, top_k),
    }  # fmt: skip


def _fnir(
    vectors: list[np.ndarray | None],
    probes: list[tuple[str, str]],
    cases: np.ndarray,
    names: np.ndarray,
    metric: str,
    review: float,
    top_k: int,
) -> float:
    """Probes whose mate is not among their top_k within the review band (no face counts as a miss)."""
    have = [i for i, v in enumerate(vectors) if v is not None]
    if not have:
        return 1.0
    matrix = np.stack([vectors[i] for i in have]).astype(np.float32)  # type: ignore[misc]
    ids = np.array([probes[i][1] for i in have])
    near = nearest_cases(matrix, ids, np.ones(len(have), dtype=bool), cases, names, metric, top_k)
    hit = (near.is_mate & (near.distances <= review)).any(axis=1)
    return 1 - float(hit.sum()) / len(probes)
