"""A line chart with Pillow alone (no plotting library to install): false candidates per sighting by gallery size."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

from PIL import Image, ImageDraw

from evaluation.review_load import SERVED

WIDTH, HEIGHT, MARGIN = 900, 560, 70
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f"]
ROLES = ("distance", "density", "served", "fpir")  # one colour each, the same for both engines
DASHED = {"arcface"}  # one engine solid, the other dashed, so the lines read in grey too


def review_load_chart(results: list[Path], out: Path, band: str = "review") -> None:
    """One line per engine and policy: false candidates per sighting (y) against cases in the gallery (x, log).

    Only today's rule, density, the engine's served rule (SERVED) and fpir: eight lines are as many as read."""
    lines = {}
    for path in results:
        result = json.loads(path.read_text())
        drawn = ("distance", "density", SERVED.get(result["engine"], "density"), "fpir")
        for policy in next(iter(result["sizes"].values())):
            if policy not in drawn:
                continue
            points = [(int(s), row[policy][band]["false_per_probe"]) for s, row in result["sizes"].items()]
            lines[(result["engine"], policy)] = points
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    xs = [x for points in lines.values() for x, _ in points]
    top = max((y for points in lines.values() for _, y in points), default=1.0) * 1.1 or 1.0
    x_of = _log_axis(min(xs), max(xs))
    y_of = lambda y: HEIGHT - MARGIN - (HEIGHT - 2 * MARGIN) * y / top  # noqa: E731 - a one-line scale
    _axes(draw, min(xs), max(xs), top, x_of, y_of, band)
    for n, ((engine, policy), points) in enumerate(sorted(lines.items())):
        served = policy == SERVED.get(engine)
        colour = COLOURS[ROLES.index("served" if served else policy)]
        xy = [(x_of(x), y_of(y)) for x, y in points]
        _polyline(draw, xy, colour, dashed=engine in DASHED)
        label = f"{engine} · {policy}" + (" (served)" if served else "")
        draw.text((MARGIN + 20, MARGIN + 16 * n), label + (" - - -" if engine in DASHED else ""), fill=colour)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)


def _log_axis(low: int, high: int):  # type: ignore[no-untyped-def] - a closure over the scale
    a, b = math.log10(low), math.log10(max(high, low + 1))
    return lambda x: MARGIN + (WIDTH - 2 * MARGIN) * (math.log10(x) - a) / (b - a)


def _axes(draw: ImageDraw.ImageDraw, low: int, high: int, top: float, x_of, y_of, band: str) -> None:  # type: ignore[no-untyped-def]
    draw.line([(MARGIN, MARGIN), (MARGIN, HEIGHT - MARGIN), (WIDTH - MARGIN, HEIGHT - MARGIN)], fill="black")
    for power in range(int(math.log10(low)), int(math.log10(high)) + 1):
        for step in (1, 2, 5):
            x = step * 10**power
            if low <= x <= high:
                draw.line([(x_of(x), HEIGHT - MARGIN), (x_of(x), HEIGHT - MARGIN + 5)], fill="black")
                draw.text((x_of(x) - 12, HEIGHT - MARGIN + 8), f"{x:,}", fill="black")
    for i in range(6):
        y = top * i / 5
        draw.line([(MARGIN - 5, y_of(y)), (MARGIN, y_of(y))], fill="black")
        draw.text((10, y_of(y) - 6), f"{y:.2f}", fill="black")
    draw.text((WIDTH / 2 - 120, HEIGHT - 30), "cases in the gallery (log scale)", fill="black")
    title = f"false candidates per sighting, {band} band"
    draw.text(
        (10, 20), title + " (distance: today; the others at today's FNIR; fpir: strangers' rate held)", fill="black"
    )


def _polyline(draw: ImageDraw.ImageDraw, xy: list[tuple[float, float]], colour: str, dashed: bool) -> None:
    for (x0, y0), (x1, y1) in itertools.pairwise(xy):
        if not dashed:
            draw.line([(x0, y0), (x1, y1)], fill=colour, width=3)
            continue
        steps = max(1, int(math.hypot(x1 - x0, y1 - y0) / 8))
        for s in range(0, steps, 2):
            a, b = s / steps, min(1.0, (s + 1) / steps)
            draw.line(
                [(x0 + (x1 - x0) * a, y0 + (y1 - y0) * a), (x0 + (x1 - x0) * b, y0 + (y1 - y0) * b)],
                fill=colour,
                width=3,
            )
    for x, y in xy:
        draw.ellipse([(x - 4, y - 4), (x + 4, y + 4)], fill=colour)
