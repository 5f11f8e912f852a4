"""The two evaluations: LFW pairs (verification) and open-set identification with degraded probes."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np

from core.faces.matching import distance
from evaluation import aliases
from evaluation.dataset import identities, read_pairs
from evaluation.degrade import VARIANTS
from evaluation.embed import Embedded, EmbeddingCache, embed_all
from evaluation.metrics import MISSING, identification_summary, kfold_accuracy, roc_points, search
from evaluation.scored_search import density_search

FPIR_TARGETS = (0.003, 0.01, 0.05)
SCORES = ("distance", "density")  # what ranks and thresholds a search: the raw distance, or the density score


def subject_face(embedded: Embedded) -> np.ndarray | None:
    """The labelled person's face: in LFW's aligned photos, the detected face nearest the centre.

    None when no face was found, or when that face fails the service's quality gate
    (too small, blurred): the service would not match it either.
    """
    chosen = centre_face(embedded)
    if chosen is None:
        return None
    return embedded.encodings[chosen] if embedded.qualities[chosen] == "ok" else None


def centre_face(embedded: Embedded) -> int | None:
    """The index of the detected face nearest the photo's centre (LFW's labelled person), whatever its quality."""
    if not embedded.boxes:
        return None
    cx, cy = embedded.width / 2, embedded.height / 2
    offsets = [((left + r) / 2 - cx) ** 2 + ((t + b) / 2 - cy) ** 2 for t, r, b, left in embedded.boxes]
    return int(np.argmin(offsets))


def unusable(embedded: dict[str, Embedded]) -> dict[str, int]:
    """Why photos gave no usable subject face: none found, or the found one failed the quality gate."""
    counts = {"no_face": 0, "quality_gate": 0}
    for result in embedded.values():
        if not result.boxes:
            counts["no_face"] += 1
        elif subject_face(result) is None:
            counts["quality_gate"] += 1
    return counts


def lfw_pairs(folder: Path, pairs_file: Path, cache: EmbeddingCache, jitters: int = 1) -> dict[str, Any]:
    """10-fold accuracy; `jitters` > 1 embeds every photo so (arcface: with its mirror image, the flipped copy)."""
    metric = cache.engine.metric
    pairs = read_pairs(pairs_file)
    images = sorted({p.first for p in pairs} | {p.second for p in pairs})
    variant = "original" if jitters == 1 else f"original@j{jitters}"
    embedded = embed_all(folder, images, variant, cache, "pairs")
    faces = {image: subject_face(embedded[image]) for image in images}
    distances = np.array([_distance(faces[p.first], faces[p.second], metric) for p in pairs])
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    no_face = sorted(i for i, f in faces.items() if f is None)
    result = kfold_accuracy(distances, same, folds)
    return {
        "engine": cache.engine.name,
        "metric": metric,
        "jitters": jitters,
        "pairs": len(pairs),
        "folds": len(np.unique(folds)),
        "images": len(images),
        "images_without_face": len(no_face),
        "unusable": unusable(embedded),
        "pairs_touching_no_face": int((~np.isfinite(distances)).sum()),
        "no_face_handling": (
            "a pair with a photo that gave no usable face counts as 'different' (distance infinite):"
            " the service would never match it"
        ),
        "accuracy": result,
        "roc": roc_points(distances, same),
        "no_face_examples": no_face[:20],
    }


def identify(
    folder: Path,
    cache: EmbeddingCache,
    gallery_sizes: list[int | None],
    nonmate_share: float,
    variants: list[str],
    bands: dict[str, float],
    top_k: int,
    seed: int,
    case_jitters: int = 1,
    lfw_names: bool = False,
    score: str = "distance",
) -> dict[str, Any]:
    """Open-set identification: the first photo of each identity is its case; every other photo is a sighting.

    A share of identities gives the non-mated searches: all their photos, searched with their own
    identity absent from the gallery. A partial gallery never contains them; the full gallery
    (all identities) contains them, masked out of their own searches, so it really holds every
    LFW identity while each non-mated search still has no mate. Unless `lfw_names`, LFW's known
    aliases are merged first (evaluation/aliases.py): one person is one identity. `score`: `distance` ranks and
    thresholds by the raw distance, `density` by the service's density score (evaluation/scored_search.py).
    """
    people, merged, held_out, order = split_identities(folder, nonmate_share, seed, lfw_names)
    names = sorted(people)
    needed = {n for size in gallery_sizes for n in (names if size is None else order[:size])} | held_out
    original = embed_all(folder, [i for n in sorted(needed) for i in people[n]], "original", cache, "original")
    results: dict[str, Any] = {
        "engine": cache.engine.name,
        "metric": cache.engine.metric,
        "identities": len(names),
        "held_out_identities": len(held_out),
        "aliases": merged,
        "seed": seed,
        "top_k": top_k,
        "case_jitters": case_jitters,
        "score": score,
        "galleries": {},
    }
    for size in gallery_sizes:
        chosen = names if size is None else order[:size]
        found = _one_gallery(
            folder, cache, people, chosen, held_out, original, variants, bands, top_k, case_jitters, score
        )
        results["galleries"][f"{len(chosen)} identities"] = {"gallery_identities": len(chosen)} | found
    return results


def _one_gallery(
    folder: Path,
    cache: EmbeddingCache,
    people: dict[str, list[str]],
    chosen: list[str],
    held_out: set[str],
    original: dict[str, Any],
    variants: list[str],
    bands: dict[str, float],
    top_k: int,
    case_jitters: int,
    score: str = "distance",
) -> dict[str, Any]:
    """Enrol the first photo of each chosen identity, then search every other photo under each variant."""
    enrolment = (
        original
        if case_jitters == 1
        else embed_all(
            folder, [people[n][0] for n in chosen], f"original@j{case_jitters}", cache, f"cases j{case_jitters}"
        )
    )
    gallery_names = [n for n in chosen if subject_face(enrolment[people[n][0]]) is not None]
    gallery = np.stack([subject_face(enrolment[people[n][0]]) for n in gallery_names]).astype(np.float32)  # type: ignore[misc]
    probes = [(i, n, True) for n in chosen if n not in held_out for i in people[n][1:]] + [
        (i, n, False) for n in sorted(held_out) for i in people[n]
    ]
    result: dict[str, Any] = {"enrolment_photos_without_face": len(chosen) - len(gallery_names), "variants": {}}
    for variant in variants:
        embedded = (
            original if variant == "original" else embed_all(folder, [p[0] for p in probes], variant, cache, variant)
        )
        vectors = [subject_face(embedded[p[0]]) for p in probes]
        searches = (search if score == "distance" else density_search)(
            gallery,
            np.array(gallery_names),
            vectors,
            np.array([p[1] for p in probes]),
            np.array([p[2] for p in probes]),
            top_k,
            cache.engine.metric,
        )
        summary = identification_summary(searches, bands, FPIR_TARGETS)
        summary["probes_without_usable_face"] = sum(v is None for v in vectors)
        summary["unusable"] = unusable({p[0]: embedded[p[0]] for p in probes})
        result["variants"][variant] = summary
    return result


def references(
    folder: Path,
    cache: EmbeddingCache,
    counts: list[int],
    nonmate_share: float,
    bands: dict[str, float],
    top_k: int,
    seed: int,
    lfw_names: bool = False,
) -> dict[str, Any]:
    """Does a case with several photos find more? The same sightings against galleries of 1, 2, 3 photos per case.

    Every identity with more photos than the largest count is enrolled with its first photos;
    its remaining photos are the mated searches, identical for every count.
    """
    people, merged, held_out, _ = split_identities(folder, nonmate_share, seed, lfw_names)
    names = sorted(people)
    most = max(counts)
    embedded = embed_all(folder, [i for n in names for i in people[n]], "original", cache, "original")
    enrolled = [n for n in names if n not in held_out and len(people[n]) > most]
    probes = [(i, n, True) for n in enrolled for i in people[n][most:]] + [
        (i, n, False) for n in sorted(held_out) for i in people[n]
    ]
    vectors = [subject_face(embedded[p[0]]) for p in probes]
    result: dict[str, Any] = {
        "identities": len(enrolled),
        "held_out_identities": len(held_out),
        "aliases": merged,
        "counts": {},
    }
    for count in counts:
        rows = [(n, subject_face(embedded[i])) for n in enrolled for i in people[n][:count]]
        rows = [(n, v) for n, v in rows if v is not None]
        gallery = np.stack([v for _, v in rows]).astype(np.float32)
        searches = search(
            gallery,
            np.array([n for n, _ in rows]),
            vectors,
            np.array([p[1] for p in probes]),
            np.array([p[2] for p in probes]),
            top_k,
            cache.engine.metric,
        )
        result["counts"][str(count)] = identification_summary(searches, bands, FPIR_TARGETS)
    return result


def split_identities(
    folder: Path, nonmate_share: float, seed: int, lfw_names: bool
) -> tuple[dict[str, list[str]], dict[str, int] | None, set[str], list[str]]:
    """Identities (aliases merged unless `lfw_names`), the held-out ones and the enrolment order.

    The draw is made over LFW's own names either way, so a seed holds out and enrols the same
    people with and without the aliases: only the merged photos move (a held-out person takes
    the photos of their second name along, a name merged away is no longer drawn).
    """
    raw = identities(folder)
    people, merged = (raw, None) if lfw_names else aliases.merge(raw)
    drawn_names = sorted(raw)
    rng = random.Random(seed)
    drawn = set(rng.sample(drawn_names, round(nonmate_share * len(drawn_names))))
    pool = [n for n in drawn_names if n not in drawn]
    order = [n for n in rng.sample(pool, len(pool)) if n in people]
    return people, merged, {n for n in drawn if n in people}, order


def _distance(a: np.ndarray | None, b: np.ndarray | None, metric: str) -> float:
    return MISSING if a is None or b is None else distance(a, b, metric)


__all__ = ["VARIANTS", "identify", "lfw_pairs"]
