"""What encryption at rest costs: `homeward bench sealing` or `python -m benchmarks.sealing`.

Opening N stored encodings into plain vectors (what a gallery load does once),
sealing one encoding, and cleaning (metadata out) plus sealing a 12 MP photo.
No servers needed: the cost is in this process, not in MongoDB.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time

import numpy as np
from PIL import Image

from config.keys import DataKeys, new_key
from core.faces.metadata import clean_photo
from storage import sealing
from storage.faces import bytes_to_vector, sealed_vector, vector_to_bytes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=20_000, help="encodings opened, as one gallery load")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sealing.use_keys(DataKeys((new_key(),), None))
    vectors = np.random.default_rng(0).normal(size=(args.faces, 128)).astype(np.float32)
    sealed = [sealed_vector(vector) for vector in vectors]
    plain = [vector_to_bytes(vector) for vector in vectors]

    def load(blobs: list[bytes]) -> float:
        started = time.perf_counter()
        np.stack([bytes_to_vector(blob) for blob in blobs])
        return (time.perf_counter() - started) * 1000

    load_sealed = statistics.median(load(sealed) for _ in range(args.runs))
    load_plain = statistics.median(load(plain) for _ in range(args.runs))
    started = time.perf_counter()
    for vector in vectors[:2000]:
        sealed_vector(vector)
    seal_us = (time.perf_counter() - started) / 2000 * 1e6

    photo = io.BytesIO()
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (53.0, 47.0, 42.0), 3: "W", 4: (1.0, 32.0, 24.0)}
    pixels = np.random.default_rng(1).integers(0, 255, (3000, 4000, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(photo, "JPEG", quality=90, exif=exif)
    data = photo.getvalue()
    timings = []
    for _ in range(args.runs):
        started = time.perf_counter()
        sealing.keyring().seal(clean_photo(data).data, sealing.PHOTO)
        timings.append((time.perf_counter() - started) * 1000)
    photo_ms = statistics.median(timings)

    figures = {
        "faces": args.faces,
        "gallery_load_sealed_ms": round(load_sealed, 1),
        "gallery_load_plain_ms": round(load_plain, 1),
        "open_per_encoding_us": round(load_sealed / args.faces * 1000, 2),
        "seal_per_encoding_us": round(seal_us, 2),
        "photo_mb": round(len(data) / 2**20, 1),
        "photo_clean_and_seal_ms": round(photo_ms, 1),
    }
    print(f"opening {args.faces} encodings (one gallery load): {load_sealed:.0f} ms sealed, {load_plain:.0f} ms plain")
    print(f"sealing one encoding: {seal_us:.1f} us")
    print(f"cleaning and sealing a {figures['photo_mb']} MB 12 MP JPEG: {photo_ms:.0f} ms")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
