"""`homeward embed`: the face pipeline on photos from disk, printed as the workers would judge them."""

from __future__ import annotations

from pathlib import Path

import click

from cli import settings as cli_settings
from core.errors import PhotoRejected


@click.command("embed")
@click.argument("photos", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def embed_command(photos: tuple[Path, ...]) -> None:
    """Find the faces in photos and print each with its quality, as the workers would."""
    from core.faces.analysis import analyse_photo  # noqa: PLC0415 - loads the face models

    settings = cli_settings.load()
    for path in photos:
        try:
            result = analyse_photo(path.read_bytes(), settings.max_photo_bytes, settings.max_photo_pixels)
        except PhotoRejected as rejected:
            click.echo(f"{path}: rejected ({rejected.reason}) {rejected.detail}")
            continue
        click.echo(
            f"{path}: {result.width}x{result.height} {result.format}, {len(result.faces)} face(s), "
            f"{result.timings_ms} ms"
        )
        for number, face in enumerate(result.faces, 1):
            top, right, bottom, left = face.box
            click.echo(
                f"  face {number}: box {left},{top}-{right},{bottom} size {face.size_px}px "
                f"score {face.score:.2f} sharpness {face.sharpness:.0f} -> {face.quality} ({face.quality_reason})"
            )
