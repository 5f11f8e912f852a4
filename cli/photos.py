"""`homeward embed`: the face pipeline on photos from disk, printed as the workers would judge them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from cli import settings as cli_settings
from cli.engine import engine_option, load_engine
from core.errors import PhotoRejected
from core.faces.analysis import analyse_photo


@click.command("embed")
@click.argument("photos", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@engine_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per photo (box, score, quality, vector).")
def embed_command(photos: tuple[Path, ...], engine: str | None, as_json: bool) -> None:
    """Find the faces in photos and print each with its quality, as the workers would."""
    settings = cli_settings.load()
    face_engine = load_engine(settings, engine)
    for path in photos:
        try:
            result = analyse_photo(
                path.read_bytes(), settings.max_photo_bytes, settings.max_photo_pixels, engine=face_engine
            )
        except PhotoRejected as rejected:
            if as_json:
                click.echo(json.dumps(_photo_json(path, face_engine.info.name, [], rejected.reason)))
            else:
                click.echo(f"{path}: rejected ({rejected.reason}) {rejected.detail}")
            continue
        if as_json:
            click.echo(json.dumps(_photo_json(path, result.engine, result.faces)))
            continue
        click.echo(
            f"{path}: {result.width}x{result.height} {result.format}, {len(result.faces)} face(s), "
            f"{result.engine} engine, {result.timings_ms} ms"
        )
        for number, face in enumerate(result.faces, 1):
            top, right, bottom, left = face.box
            click.echo(
                f"  face {number}: box {left},{top}-{right},{bottom} size {face.size_px}px "
                f"score {face.score:.2f} sharpness {face.sharpness:.0f} -> {face.quality} ({face.quality_reason})"
            )


def _photo_json(path: Path, engine: str, faces: list[Any], rejected: str = "") -> dict[str, Any]:
    """One photo: path, engine, faces (box as top, right, bottom, left; score; quality; vector); why rejected."""
    record: dict[str, Any] = {
        "photo": str(path),
        "engine": engine,
        "faces": [
            {
                "box": list(face.box),
                "score": round(face.score, 4),
                "quality": face.quality,
                "vector": [round(float(v), 6) for v in face.encoding],
            }
            for face in faces
        ],
    }
    if rejected:
        record["rejected"] = rejected
    return record
