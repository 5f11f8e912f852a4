"""A short video as a sighting: sample its frames, find the faces, keep the best few per person.

Citizens often film rather than photograph. A clip holds the same face in
dozens of frames, so only the sharpest and largest few of each person are
kept, each with its frame, which becomes a photo of the sighting that
reviewers see like any other. Decoding is in memory (OpenCV's FFmpeg reads
from a buffer), so this stays free of I/O like the rest of core/.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

from core.errors import PhotoRejected
from core.faces import engines
from core.faces.analysis import Face, find_faces
from core.faces.images import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS
from core.faces.matching import distance

MAX_SECONDS = 30  # longer clips are refused: the sender is asked for a shorter one
SAMPLES_PER_SECOND = 2.0  # people move little in half a second; more frames cost detection time and find no one new
SAME_PERSON = 0.4  # dlib encodings closer than this are one person (dlib's own threshold is 0.6); see EngineInfo
PER_PERSON = 3  # faces kept for each distinct person
MAX_FACES = 10  # faces kept from one clip in all
# Each sampled frame is scaled down as it is read, so a clip's memory is bounded by this, not by what the container
# declares: a 4K clip's frame is ~25 MB decoded, 1280 px ~3 MB, and faces are found at the same sizes as in photos.
MAX_FRAME_SIDE = 1280
# Frames with faces are held until the clip's best faces are chosen. A 30 s clip sampled twice a second at
# MAX_FRAME_SIDE holds at most ~300 MB of them; past this the clip is refused, whatever it claims to be.
MAX_HELD_BYTES = 320 * 1024 * 1024

_GOOD = {"ok": 2, "too_small": 1, "blurred": 1}  # usable faces first; any verdict beats none


@dataclass(frozen=True)
class VideoFrame:
    rgb: np.ndarray  # the sampled frame, upright 8-bit RGB
    seconds: float  # where in the clip it was taken
    faces: list[Face]  # only the faces kept from this frame


@dataclass(frozen=True)
class VideoAnalysis:
    seconds: float
    frames_sampled: int
    faces_found: int
    frames: list[VideoFrame]  # the frames that hold a kept face, in clip order
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def faces_kept(self) -> int:
        return sum(len(frame.faces) for frame in self.frames)


def looks_like_video(data: bytes, content_type: str = "") -> bool:
    """A video by what the platform said or by its container's first bytes; HEIC/AVIF photos share MP4's box."""
    if content_type.startswith("video/"):
        return True
    if data[4:8] == b"ftyp":
        return data[8:12] not in (b"heic", b"heix", b"heim", b"heis", b"hevc", b"mif1", b"msf1", b"avif", b"avis")
    return data[:4] in (b"\x1aE\xdf\xa3", b"\x00\x00\x01\xba") or (data[:4] == b"RIFF" and data[8:12] == b"AVI ")


def analyse_video(
    data: bytes,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_seconds: float = MAX_SECONDS,
    per_second: float = SAMPLES_PER_SECOND,
    engine: engines.FaceEngine | None = None,
) -> VideoAnalysis:
    """Find the people in a short clip; raise PhotoRejected (video_unreadable, video_too_long, ...) if unusable."""
    started = time.perf_counter()
    if not data:
        raise PhotoRejected("empty", "no bytes")
    if len(data) > max_bytes:
        raise PhotoRejected("too_large_file", f"{len(data)} bytes > {max_bytes}")
    engine = engine or engines.get()
    held: dict[int, tuple[float, np.ndarray]] = {}  # frames with faces, by their sample number
    found: list[tuple[int, Face]] = []
    sampled, length, held_bytes = 0, 0.0, 0
    for seconds, rgb in _sample(data, max_pixels, max_seconds, per_second):  # one frame at a time
        sampled, length = sampled + 1, seconds
        faces = find_faces(rgb, engine=engine)[0]
        if not faces:
            continue  # a frame without faces is let go at once
        held_bytes += rgb.nbytes
        if held_bytes > MAX_HELD_BYTES:
            raise PhotoRejected("video_too_long", f"over {MAX_HELD_BYTES} bytes of frames with faces")
        held[sampled] = (seconds, rgb)
        found += [(sampled, face) for face in faces]
    detected = time.perf_counter()
    kept = keep_best(found, engine.info)
    frames = [
        VideoFrame(rgb, seconds, [face for index, face in kept if index == position])
        for position, (seconds, rgb) in held.items()
        if any(index == position for index, _ in kept)
    ]
    timings = {"decode_and_faces": _ms(started, detected)}
    return VideoAnalysis(length, sampled, len(found), frames, timings)


def keep_best(found: list[tuple[int, Face]], engine: engines.EngineInfo | None = None) -> list[tuple[int, Face]]:
    """Group faces into people by encoding distance, then take each person's best in turn up to the limits."""
    engine = engine or engines.ENGINES[engines.DEFAULT_ENGINE]
    ranked = sorted(found, key=lambda item: (_GOOD.get(item[1].quality, 0), item[1].size_px, item[1].sharpness))
    people: list[list[tuple[int, Face]]] = []
    for item in reversed(ranked):  # best first: each person is represented by their best face
        person = next((p for p in people if _distance(p[0][1], item[1], engine) < engine.same_person), None)
        if person is None:
            people.append([item])
        elif len(person) < PER_PERSON:
            person.append(item)
    kept: list[tuple[int, Face]] = []
    for turn in range(PER_PERSON):  # everyone's best before anyone's second best
        kept.extend(person[turn] for person in people if turn < len(person))
    return kept[:MAX_FACES]


def _sample(data: bytes, max_pixels: int, max_seconds: float, per_second: float) -> Iterator[tuple[float, np.ndarray]]:
    stream = io.BytesIO(data)  # held until release: OpenCV reads it without keeping it alive (a crash otherwise)
    capture = cv2.VideoCapture(stream, cv2.CAP_FFMPEG, [])
    try:
        if not capture.isOpened():
            raise PhotoRejected("video_unreadable", "no video stream could be opened")
        fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
        count = capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0
        if fps > 0 and count / fps > max_seconds + 0.5:
            raise PhotoRejected("video_too_long", f"{count / fps:.1f} s > {max_seconds} s")
        width, height = capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)
        if width * height > max_pixels:
            raise PhotoRejected("too_many_pixels", f"{width:.0f}x{height:.0f} > {max_pixels} pixels")
        yield from _frames(capture, fps, max_seconds, per_second, max_pixels)
    finally:
        capture.release()
        stream.close()


def _frames(
    capture: cv2.VideoCapture, fps: float, max_seconds: float, per_second: float, max_pixels: int
) -> Iterator[tuple[float, np.ndarray]]:
    """Every 1/per_second seconds of the clip, by the frames' own timestamps (a container's frame count can lie)."""
    position, due, any_frame = 0, 0.0, False
    while capture.grab():
        seconds = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0 if fps <= 0 else position / fps
        position += 1
        any_frame = True
        if seconds > max_seconds + 0.5:
            raise PhotoRejected("video_too_long", f"still playing at {seconds:.1f} s > {max_seconds} s")
        if seconds + 1e-6 < due:
            continue
        ok, bgr = capture.retrieve()
        if ok and bgr is not None and bgr.ndim == 3:
            due += 1.0 / per_second
            yield seconds, _checked_frame(bgr, max_pixels)
    if not any_frame:
        raise PhotoRejected("video_unreadable", "no frame could be decoded")


def _checked_frame(bgr: np.ndarray, max_pixels: int) -> np.ndarray:
    """The decoded frame as RGB, scaled to MAX_FRAME_SIDE; its real size is checked (a container's can lie)."""
    height, width = bgr.shape[:2]
    if width * height > max_pixels:
        raise PhotoRejected("too_many_pixels", f"a {width}x{height} frame > {max_pixels} pixels")
    scale = MAX_FRAME_SIDE / max(width, height)
    if scale < 1:
        bgr = cv2.resize(bgr, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def _distance(a: Face, b: Face, engine: engines.EngineInfo) -> float:
    return distance(a.encoding, b.encoding, engine.metric)


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 1)


def frame_jpeg(frame: VideoFrame, quality: int = 92) -> bytes:
    """The frame as the JPEG photo reviewers see; the same frame gives the same bytes, so a rerun stores it once."""
    out = io.BytesIO()
    Image.fromarray(frame.rgb).save(out, "JPEG", quality=quality)
    return out.getvalue()
