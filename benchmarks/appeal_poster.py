"""An appeal's poster rendering time per language, on one core: `homeward bench poster`.

What the render job (workers/appeals.py `render_all`) does for one approved appeal: the A4 PNG, its PDF
and the phone image, in the family's language, with a photo and every detail shown. The target is 1 s
per language (issue 28). Runs in this process only (one core); the first render, which loads the font, is
reported apart.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np

from core.appeals.links import telegram_link
from core.appeals.poster import PosterDetails, font_path, poster_pdf, render_poster, shaping
from core.appeals.typeset import Typesetter

NAMES = {
    "en": ("Ravi Kumar", "Blue shirt, grey trousers, walks with a stick"),
    "hi": ("रवि कुमार", "नीली कमीज़, स्लेटी पतलून"),
}


def render_all(details: PosterDetails, photo: np.ndarray, typesetter: Typesetter) -> None:
    a4 = render_poster(details, photo, "a4", typesetter)
    poster_pdf(a4)
    render_poster(details, photo, "phone", typesetter)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="renders per language (the median is shown)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says
    photo = np.random.default_rng(0).integers(0, 255, size=(900, 700, 3), dtype=np.uint8)
    figures: dict[str, object] = {"shaping": shaping(), "runs": args.runs}
    for engine in dict.fromkeys((shaping(), "harfbuzz")):  # what this machine uses, and the fallback
        typesetter = Typesetter(font_path(), engine)
        for language in NAMES:
            figures[f"{engine}/{language}"] = _measure(_details(language), photo, typesetter, args.runs)
    print(json.dumps(figures))
    return 0


def _details(language: str) -> PosterDetails:
    name, description = NAMES[language]
    return PosterDetails(
        "AP-5N3Q", name, language, telegram_link("homeward_bot", "AP-5N3Q"), "https://homeward.example/a/x",
        34, "Old market, north gate", "3 Dec 2026", description,
    )  # fmt: skip


def _measure(details: PosterDetails, photo: np.ndarray, typesetter: Typesetter, runs: int) -> dict[str, float]:
    started = time.perf_counter()
    render_all(details, photo, typesetter)
    first = time.perf_counter() - started
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        render_all(details, photo, typesetter)
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(f"{typesetter.engine} {details.language}: A4 PNG + PDF + phone PNG in {median:.3f} s median "
          f"(max {max(times):.3f} s, first {first:.3f} s with the font's loading), target 1 s")  # fmt: skip
    return {"first_s": round(first, 3), "median_s": round(median, 3), "max_s": round(max(times), 3)}


if __name__ == "__main__":
    raise SystemExit(main())
