"""Per-photo timings of the face pipeline: `make bench` or `python -m benchmarks.pipeline`.

Decode, detect and encode, median of several runs, for a one-face photo at
640 and 1280 px on the long side and for group photos, read from the shared
faces folder (HOMEWARD_FACES_DIR).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
from pathlib import Path

from PIL import Image

from config import load_settings
from core.faces import model as face_model
from core.faces.analysis import analyse_photo

ONE_FACE = "small/deepface_unit/Angelina_Jolie"
GROUPS = ("groups/facenet_pytorch_multiface.jpg", "groups/bbt1.jpg")


def resized_jpeg(path: Path, long_side: int) -> bytes:
    image = Image.open(path).convert("RGB")
    image.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def measure(label: str, data: bytes, runs: int) -> None:
    laps = [analyse_photo(data) for _ in range(runs)]
    last = laps[-1]
    median = {
        stage: statistics.median(run.timings_ms[stage] for run in laps) for stage in ("decode", "detect", "encode")
    }
    total = sum(median.values())
    print(
        f"{label:<34} {last.width:>4}x{last.height:<4} faces {len(last.faces):>2}  upsample {last.upsample}  "
        f"decode {median['decode']:>6.1f}  detect {median['detect']:>7.1f}"
        f"  encode {median['encode']:>6.1f}  total {total:>7.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="runs per photo; the median is printed")
    args = parser.parse_args()
    faces = load_settings().faces_dir
    if not (faces / ONE_FACE).is_dir():
        print(f"face photos not found at {faces}; set HOMEWARD_FACES_DIR", file=sys.stderr)
        return 2
    face_model.load()  # the one-off model load is not a per-photo cost
    portrait = sorted((faces / ONE_FACE).iterdir())[0]
    print(f"median of {args.runs} runs, one process, one core; times in ms")
    for side in (640, 1280):
        measure(f"one face, {side} px ({portrait.name})", resized_jpeg(portrait, side), args.runs)
    for group in GROUPS:
        measure(f"group ({Path(group).name})", (faces / group).read_bytes(), args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
