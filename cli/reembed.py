"""`homeward reembed`: embed the kept photos again with another face engine, so switching engines loses nothing.

Faces of different engines live side by side (each records its engine) and
are never compared, so this runs while the service keeps matching with the
engine it runs: re-embed with the new engine first, then switch
HOMEWARD_FACE_ENGINE and restart. Photos already embedded by the engine are
skipped, so an interrupted run simply continues.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from cli import settings as cli_settings
from cli.engine import engine_option, load_engine
from config import Settings
from core.errors import PhotoRejected
from core.faces.analysis import PhotoAnalysis, as_case_photo, find_faces
from core.faces.images import decode_photo, turn
from infra.services import backing_services
from storage.cases import open_references
from storage.connections import Database, connect
from storage.faces import photo_has_faces_of, store_faces
from storage.photos import photo_bytes, photos_to_reembed


@dataclass
class Tally:
    photos: int = 0
    embedded: int = 0
    faces: int = 0
    already: int = 0
    unreadable: int = 0


@click.command("reembed")
@engine_option
def reembed_command(engine: str | None) -> None:
    """Embed the photos of open cases and of sightings within MATCH_LOOKBACK_DAYS with a face engine."""
    settings = cli_settings.load()
    face_engine = load_engine(settings, engine)
    with backing_services(settings) as urls:
        connections = connect(urls.mongodb_uri, settings.mongodb_database, urls.redis_url)
        try:
            tally = reembed(connections.db, settings, face_engine, progress=True)
        finally:
            connections.close()
    click.echo(
        f"{face_engine.info.name}: {tally.photos} photo(s) of open cases and recent sightings; "
        f"{tally.embedded} embedded ({tally.faces} face(s)), {tally.already} already done, "
        f"{tally.unreadable} unreadable"
    )


def reembed(db: Database, settings: Settings, engine: Any, progress: bool = False) -> Tally:
    """Embed every photo the engine has not embedded yet; faces keep their photo's date (the lookback still ends)."""
    since = datetime.now(UTC) - timedelta(days=settings.match_lookback_days)
    photos = photos_to_reembed(db, open_references(db), since)
    tally = Tally(photos=len(photos))
    label = f"re-embedding with {engine.info.name}"
    with click.progressbar(photos, label=label, file=None if progress else _Silent(), show_pos=True) as bar:
        for photo in bar:
            if photo_has_faces_of(db, photo["_id"], engine.info.name):
                tally.already += 1
                continue
            try:
                analysis = _analyse(photo_bytes(db, photo), photo, settings, engine)
            except PhotoRejected:
                tally.unreadable += 1  # it was readable once; say so rather than stop the run
                continue
            store_faces(db, photo, analysis, created_at=photo.get("created_at"))
            tally.embedded += 1
            tally.faces += len(analysis.faces)
    return tally


def _analyse(data: bytes, photo: dict[str, Any], settings: Settings, engine: Any) -> Any:
    """The photo's faces with this engine, found in the turn its boxes were recorded in (crops stay right)."""
    rotation = int(photo.get("rotation") or 0)
    rgb = turn(decode_photo(data, settings.max_photo_bytes, settings.max_photo_pixels).rgb, rotation)
    is_case = photo["owner"]["kind"] == "case"
    faces, upsample = find_faces(rgb, settings.case_photo_jitters if is_case else 1, engine=engine)
    height, width = rgb.shape[:2]
    analysis = PhotoAnalysis(width, height, "", faces, upsample, {}, rotation, engine.info.name)
    return as_case_photo(analysis) if is_case else analysis


class _Silent:
    """A file that swallows the progress bar (tests, and callers that report themselves)."""

    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        pass
