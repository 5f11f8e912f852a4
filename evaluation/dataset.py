"""Labelled folders (one sub-folder per identity) and LFW pairs files, as plain lists."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


@dataclass(frozen=True)
class Pair:
    fold: int
    first: str  # image path relative to the labelled folder
    second: str
    same: bool


def identities(folder: Path) -> dict[str, list[str]]:
    """Identity -> its images (relative paths), both sorted, so every run sees the same order."""
    found = {}
    for person in sorted(p for p in folder.iterdir() if p.is_dir()):
        images = sorted(str(i.relative_to(folder)) for i in person.iterdir() if i.suffix.lower() in IMAGE_SUFFIXES)
        if images:
            found[person.name] = images
    return found


def read_pairs(path: Path) -> list[Pair]:
    """LFW pairs: View 2 starts '10 300' (folds, pairs per kind per fold); View 1 starts with a count (one fold)."""
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    header, rows = lines[0], lines[1:]
    folds, per_kind = (int(header[0]), int(header[1])) if len(header) == 2 else (1, int(header[0]))
    pairs = []
    for index, row in enumerate(rows):
        fold = index // (2 * per_kind) if folds > 1 else 0
        if len(row) == 3:
            pairs.append(Pair(fold, _image(row[0], row[1]), _image(row[0], row[2]), True))
        elif len(row) == 4:
            pairs.append(Pair(fold, _image(row[0], row[1]), _image(row[2], row[3]), False))
        else:
            raise ValueError(f"{path}: line {index + 2} is neither a same nor a different pair")
    if len(pairs) != folds * 2 * per_kind:
        raise ValueError(f"{path}: expected {folds * 2 * per_kind} pairs, found {len(pairs)}")
    return pairs


def _image(name: str, number: str) -> str:
    return f"{name}/{name}_{int(number):04d}.jpg"
