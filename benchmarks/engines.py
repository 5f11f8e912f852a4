"""The face engines side by side on what the LFW evaluation does not show: `python -m benchmarks.engines`.

- small faces: one face pasted at 20-40 px into a 1280x960 photo; found or not, and the verdict it gets;
- bad photos: ~65 awkward files (corrupt, truncated, bombs, CMYK, 16-bit, animated, EXIF-rotated, tiny,
  extreme shapes...) through the whole pipeline: a crash is anything other than an analysis or a
  PhotoRejected;
- speed: photos and faces per second on one core (the embedder alone, and the whole pipeline on LFW),
  and on every core (one process per core, as `HOMEWARD_WORKERS` runs them).

The arcface engine runs only with HOMEWARD_ACCEPT_MODEL_LICENCE=yes (see the README); dlib runs with
HOMEWARD_DLIB_DETECTOR's detector. Last line: JSON.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from config import load_settings
from config.settings import LICENCE_REFUSAL
from core.errors import PhotoRejected
from core.faces import engines
from core.faces.analysis import analyse_photo
from tests import photo_files

PORTRAITS = ("lfw/Colin_Powell/Colin_Powell_0001.jpg", "lfw/George_W_Bush/George_W_Bush_0001.jpg")
SMALL_SIZES = (20, 24, 28, 32, 40)
CANVAS = (1280, 960)


def small_faces(engine: engines.FaceEngine, faces_dir: Path) -> dict[str, Any]:
    """Each portrait's face scaled to N px and pasted at a few places in a plain 1280x960 photo."""
    dlib = engines.get("dlib")
    results: dict[str, Any] = {}
    for size in SMALL_SIZES:
        found, verdicts, times = 0, {}, []
        trials = 0
        for name in PORTRAITS:
            portrait = Image.open(faces_dir / name).convert("RGB")
            box = analyse_photo(photo_files.jpeg(portrait), engine=dlib).faces[0].box
            scale = size / (box[2] - box[0])
            small = portrait.resize(
                (round(portrait.width * scale), round(portrait.height * scale)), Image.Resampling.LANCZOS
            )
            for x, y in ((100, 100), (600, 450), (1100, 780)):
                canvas = Image.new("RGB", CANVAS, (120, 130, 140))
                canvas.paste(small, (x, y))
                started = time.perf_counter()
                analysis = analyse_photo(photo_files.jpeg(canvas), engine=engine)
                times.append((time.perf_counter() - started) * 1000)
                trials += 1
                centre = (x + box[3] * scale + size / 2, y + box[0] * scale + size / 2)
                hit = [f for f in analysis.faces if _contains(f.box, centre)]
                if hit:
                    found += 1
                    verdicts[hit[0].quality] = verdicts.get(hit[0].quality, 0) + 1
        results[f"{size}px"] = {
            "found": found,
            "of": trials,
            "verdicts": verdicts,
            "ms_median": round(float(np.median(times)), 1),
        }
    return results


def bad_photos(engine: engines.FaceEngine, faces_dir: Path) -> dict[str, Any]:
    """Every awkward file through analyse_photo: analysed, rejected (with a reason) or crashed."""
    corpus = list(_corpus(Image.open(faces_dir / PORTRAITS[0]).convert("RGB")))
    outcome: dict[str, Any] = {"files": len(corpus), "analysed": 0, "rejected": {}, "crashed": []}
    for name, data in corpus:
        try:
            analyse_photo(data, engine=engine)
            outcome["analysed"] += 1
        except PhotoRejected as rejected:
            outcome["rejected"][rejected.reason] = outcome["rejected"].get(rejected.reason, 0) + 1
        except Exception as exc:  # noqa: BLE001 - counting crashes is the point
            outcome["crashed"].append(f"{name}: {type(exc).__name__}: {exc}"[:200])
    return outcome


def speed(engine: engines.FaceEngine, faces_dir: Path, photos: int) -> dict[str, Any]:
    """One core: whole-pipeline photos per second on LFW (250x250, one face), and the embedder alone."""
    paths = sorted((faces_dir / "lfw").glob("*/*.jpg"))
    chosen = random.Random(7).sample(paths, min(photos, len(paths)))
    data = [p.read_bytes() for p in chosen]
    analyse_photo(data[0], engine=engine)  # warm
    started = time.perf_counter()
    encode_ms = []
    faces = 0
    for blob in data:
        analysis = analyse_photo(blob, engine=engine)
        faces += len(analysis.faces)
        encode_ms.append(analysis.timings_ms.get("encode", 0.0) / max(len(analysis.faces), 1))
    seconds = time.perf_counter() - started
    return {
        "photos": len(data),
        "faces": faces,
        "photos_per_s_one_core": round(len(data) / seconds, 1),
        "embed_ms_per_face_median": round(float(np.median(encode_ms)), 1),
        "faces_per_s_embedder_one_core": round(1000 / max(float(np.median(encode_ms)), 1e-6), 1),
    }


_pool_engine: engines.FaceEngine | None = None


def engine_choice(name: str, settings: Any) -> tuple[str, Path | None, str]:
    """What `engines.get` needs to make this engine again in another process."""
    return name, settings.arcface_model, settings.dlib_detector


def _load_in_pool(choice: tuple[str, Path | None, str]) -> None:
    global _pool_engine  # one engine per pool process, loaded once
    _pool_engine = engines.get(*choice)
    _pool_engine.load()


def _faces_in(blob: bytes) -> int:
    return len(analyse_photo(blob, engine=_pool_engine).faces)


def speed_all_cores(choice: tuple[str, Path | None, str], faces_dir: Path, photos: int) -> dict[str, Any]:
    """Every core, one process each (ONNX and dlib run one thread per process): whole-pipeline throughput."""
    paths = sorted((faces_dir / "lfw").glob("*/*.jpg"))
    data = [p.read_bytes() for p in random.Random(8).sample(paths, min(photos, len(paths)))]
    processes = os.cpu_count() or 1
    with multiprocessing.get_context("spawn").Pool(processes, _load_in_pool, (choice,)) as pool:
        pool.map(_faces_in, data[:processes], chunksize=1)  # warm every process
        started = time.perf_counter()
        faces = sum(pool.map(_faces_in, data, chunksize=4))
        seconds = time.perf_counter() - started
    return {
        "processes": processes,
        "photos_per_s": round(len(data) / seconds, 1),
        "faces_per_s": round(faces / seconds, 1),
    }


def _contains(box: tuple[int, int, int, int], point: tuple[float, float]) -> bool:
    top, right, bottom, left = box
    return left <= point[0] <= right and top <= point[1] <= bottom


def _encode(image: Image.Image, kind: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def _corpus(portrait: Image.Image) -> Any:
    """~65 files people really send, and some nobody should."""
    good = photo_files.jpeg(portrait)
    yield "jpeg", good
    for cut in (0.1, 0.3, 0.5, 0.7, 0.9, 0.99):
        yield f"truncated_{cut}", good[: int(len(good) * cut)]
    rng = random.Random(7)
    for i in range(5):
        corrupt = bytearray(good)
        for _ in range(50):
            corrupt[rng.randrange(200, len(corrupt))] = rng.randrange(256)
        yield f"corrupted_bytes_{i}", bytes(corrupt)
    yield "random_bytes", bytes(rng.randrange(256) for _ in range(5000))
    yield "empty", b""
    yield "text", b"not a photo at all"
    yield "jpeg_header_only", good[:2]
    yield "bomb_png", photo_files.bomb_png()
    yield "mp4_header", photo_files.mp4_header()
    yield "sixteen_bit_png", photo_files.sixteen_bit_gray_png(portrait)
    yield "rgba_png", photo_files.rgba_png(portrait)
    yield "animated_gif", photo_files.animated_gif(portrait, portrait.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[photo_files.EXIF_ORIENTATION] = orientation
        yield f"exif_orientation_{orientation}", photo_files.jpeg(portrait, exif=exif)
    yield "sideways_jpeg", photo_files.sideways_jpeg(portrait)
    for mode in ("CMYK", "L", "1", "P", "LA", "I", "F", "YCbCr", "I;16"):
        converted = portrait.convert(mode) if mode != "I;16" else portrait.convert("L").convert("I;16")
        kind = "TIFF" if mode in ("I", "F", "I;16", "CMYK", "YCbCr", "LA") else "PNG"
        yield f"mode_{mode}", _encode(converted, kind)
    yield "cmyk_jpeg", _encode(portrait.convert("CMYK"), "JPEG")
    for kind in ("WEBP", "BMP", "TIFF", "GIF", "ICO", "AVIF", "HEIF"):
        try:
            yield f"format_{kind}", _encode(portrait if kind != "ICO" else portrait.resize((128, 128)), kind)
        except (KeyError, OSError, ValueError):
            continue
    for width, height in ((1, 1), (2, 2), (3, 500), (500, 3), (10000, 8), (8, 10000), (16, 16), (40, 40)):
        yield f"shape_{width}x{height}", photo_files.png(portrait.resize((width, height)))
    yield "black", photo_files.png(Image.new("RGB", (640, 480), (0, 0, 0)))
    yield "white", photo_files.png(Image.new("RGB", (640, 480), (255, 255, 255)))
    noise = np.random.default_rng(7).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    yield "noise", photo_files.png(Image.fromarray(noise))
    yield "jpeg_quality_1", photo_files.jpeg(portrait, quality=1)
    yield "upscaled_4000", photo_files.jpeg(portrait.resize((4000, 4000)))
    yield "tiled_faces", photo_files.jpeg(_tiled(portrait, 6))


def _tiled(portrait: Image.Image, n: int) -> Image.Image:
    canvas = Image.new("RGB", (portrait.width * n, portrait.height * n))
    for i in range(n):
        for j in range(n):
            canvas.paste(portrait, (i * portrait.width, j * portrait.height))
    return canvas


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="dlib,arcface", help="Comma-separated engines to measure.")
    parser.add_argument("--photos", type=int, default=200, help="LFW photos for the speed figures.")
    parser.add_argument("--parts", default="small,bad,speed", help="Comma-separated: small, bad, speed.")
    arguments = parser.parse_args()
    settings = load_settings()
    report: dict[str, Any] = {}
    for name in arguments.engines.split(","):
        if name == "arcface" and not settings.model_licence_accepted:
            print(LICENCE_REFUSAL, file=sys.stderr)
            return 2
        engine = engines.get(name, settings.arcface_model, settings.dlib_detector)
        engine.load()
        label = f"dlib+{settings.dlib_detector}" if name == "dlib" else name
        parts = arguments.parts.split(",")
        report[label] = {}
        if "small" in parts:
            report[label]["small_faces"] = small_faces(engine, settings.faces_dir)
        if "bad" in parts:
            report[label]["bad_photos"] = bad_photos(engine, settings.faces_dir)
        if "speed" in parts:
            report[label]["speed"] = speed(engine, settings.faces_dir, arguments.photos)
            report[label]["speed_all_cores"] = speed_all_cores(
                engine_choice(name, settings), settings.faces_dir, arguments.photos
            )
        print(f"{label}: {json.dumps(report[label], indent=1)}", flush=True)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
