"""What the reach features cost: `python -m benchmarks.reach`.

HEIC decode against the same photo as JPEG, a 10-second clip of one labelled
person through the video pipeline, and the sideways retry on a photo with no
face (read from the shared faces folder, HOMEWARD_FACES_DIR).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from config import load_settings
from core.faces import model as face_model
from core.faces.analysis import analyse_photo
from core.faces.images import decode_photo
from core.faces.video import analyse_video

PORTRAIT = "small/deepface_unit/Angelina_Jolie"
CLIP_PERSON = "lfw/Colin_Powell"


def median_ms(action: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def encoded(image: Image.Image, kind: str) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, quality=90)
    return out.getvalue()


def heic_against_jpeg(faces: Path, runs: int) -> None:
    image = Image.open(sorted((faces / PORTRAIT).iterdir())[0]).convert("RGB")
    for side in (1280, 4032):  # 4032 px: an iPhone's 12 MP photo
        scaled = image.resize((side, side * 3 // 4), Image.Resampling.LANCZOS)
        for kind in ("JPEG", "HEIF", "AVIF"):
            data = encoded(scaled, kind)
            ms = median_ms(lambda data=data: decode_photo(data), runs)
            print(f"decode {kind:<4} {scaled.width}x{scaled.height} {len(data) // 1024:>5} KiB  {ms:>7.1f} ms")


def clip_of(faces: Path, seconds: int = 10, fps: int = 25, side: int = 480) -> bytes:
    photos = sorted((faces / CLIP_PERSON).iterdir())[1 : seconds + 1]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.mp4"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (side, side))
        for photo in photos:
            frame = cv2.resize(cv2.imread(str(photo)), (side, side), interpolation=cv2.INTER_CUBIC)
            for _ in range(fps):
                writer.write(frame)
        writer.release()
        return path.read_bytes()


def video(faces: Path) -> None:
    data = clip_of(faces)
    start = time.perf_counter()
    result = analyse_video(data)
    total = (time.perf_counter() - start) * 1000
    print(
        f"video 10 s 480x480 25 fps {len(data) // 1024} KiB: {result.frames_sampled} frames sampled, "
        f"{result.faces_found} faces found, {result.faces_kept} kept in {len(result.frames)} frames; "
        f"decode and faces {result.timings_ms['decode_and_faces']:.0f} ms, total {total:.0f} ms"
    )


def sideways(runs: int) -> None:
    rng = np.random.default_rng(7)
    for width, height in ((640, 480), (1280, 960)):
        noise = rng.integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8)
        scene = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)  # blotches, no face
        data = encoded(Image.fromarray(scene), "JPEG")
        laps = [analyse_photo(data).timings_ms for _ in range(runs)]
        upright = statistics.median(lap["detect"] + lap["encode"] for lap in laps)
        retry = statistics.median(sum(v for k, v in lap.items() if k.startswith("sideways")) for lap in laps)
        print(f"no-face photo {width}x{height}: upright search {upright:>6.0f} ms, sideways retry +{retry:>6.0f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement; the median is printed")
    args = parser.parse_args()
    faces = load_settings().faces_dir
    if not (faces / PORTRAIT).is_dir() or not (faces / CLIP_PERSON).is_dir():
        print(f"face photos not found at {faces}; set HOMEWARD_FACES_DIR", file=sys.stderr)
        return 2
    face_model.load()
    print(f"median of {args.runs} runs, one process; times in ms")
    heic_against_jpeg(faces, args.runs)
    sideways(args.runs)
    video(faces)
    return 0


if __name__ == "__main__":
    sys.exit(main())
