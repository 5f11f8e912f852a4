"""Seal and bind every older value once per database, then refuse unsealed ones: the `seal_every_value` migration.

Photos, face encodings and coordinates stored before encryption existed are
plain, and those sealed before values were bound to their records name no
record. At the first start of this version, one process re-seals all of them
(storage/rotation.py, the same compare-and-set re-sealing as `homeward
rotate-key`) and records `seal_every_value` among the migrations done
(storage/schema.py's `schema:migrations`). Every process that starts after
the marker, and the one that wrote it, sets `Keyring.all_sealed`: an
unsealed value, or an unbound one where a record is named, is then refused
instead of read, so someone who can write to the database cannot plant
plain coordinates or encodings, nor copy in values from an older backup.

The marker lives in the database, so someone who can write there could
delete it, plant plain values and wait for the next start to seal them. A
database that already holds values bound to their records (which only this
version writes) has been sealed before: then the marker is put back and
nothing is sealed, so the planted values stay refused (and it is logged).

One process at a time: a lock document in `counters` keeps two starting
processes from re-sealing the same photo at once (each would delete the
other's half-written copy). The others wait for the marker a while, then
start without it (still reading older values) rather than hold up a start.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from storage.rotation import reseal_everything
from storage.schema import MIGRATIONS_DONE
from storage.sealing import is_bound, keyring

log = logging.getLogger(__name__)

STEP = "seal_every_value"
LOCK = "schema:sealing"
STALE_AFTER = timedelta(hours=6)  # a lock older than this was left by a process that died while sealing
WAIT_S = 60.0


def seal_every_value(db: Database, wait_s: float = WAIT_S) -> bool:
    """Seal and bind older values unless done already; whether this process may refuse unsealed values now."""
    if not _done(db) and _already_bound(db):
        log.error("the %s marker was missing from a database already sealed: put back, nothing sealed", STEP)
        _mark_done(db)
    if not _done(db):
        if _take_lock(db):
            try:
                reseal_everything(db, keyring())
                _mark_done(db)
            finally:
                db.counters.delete_one({"_id": LOCK})
        else:
            _wait_for_marker(db, wait_s)
    keyring().all_sealed = _done(db)
    return keyring().all_sealed


def _mark_done(db: Database) -> None:
    db.counters.update_one({"_id": MIGRATIONS_DONE}, {"$addToSet": {"done": STEP}}, upsert=True)


def _already_bound(db: Database, sample: int = 100) -> bool:
    """Whether some of the first stored encodings, photo GPS or sighting places are bound to their record."""
    values = [face.get("encoding") for face in db.faces.find({}, {"encoding": 1}).limit(sample)]
    located = db.photos.find({"exif_location": {"$exists": True}}, {"exif_location": 1}).limit(sample)
    values += [photo.get("exif_location") for photo in located]
    placed = db.sightings.find({"place.sealed": {"$exists": True}}, {"place": 1}).limit(sample)
    values += [(sighting.get("place") or {}).get("sealed") for sighting in placed]
    return any(isinstance(value, bytes) and is_bound(value) for value in values)


def _done(db: Database) -> bool:
    return STEP in (db.counters.find_one({"_id": MIGRATIONS_DONE}) or {}).get("done", [])


def _take_lock(db: Database) -> bool:
    """Whether this process now holds the sealing lock (a stale one, left by a crash, is taken over)."""
    now = datetime.now(UTC)
    try:
        db.counters.insert_one({"_id": LOCK, "at": now})
        return True
    except DuplicateKeyError:
        stale = db.counters.delete_one({"_id": LOCK, "at": {"$lt": now - STALE_AFTER}}).deleted_count
        return bool(stale) and _take_lock(db)


def _wait_for_marker(db: Database, wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and not _done(db):
        time.sleep(0.25)
