"""Volunteers: contacts who asked for alerts of appeals near them; their place sealed, their area as grid cells.

The place's coordinates are sealed for the volunteer's record (storage/places.py); what stays in the clear is
the grid cells the area touches (core/volunteers.py, cells 5 to 110 km wide), which the selection of an
appeal's recipients needs as an indexed field. `stop` deletes the record and the alerts not yet sent; so does
the contact's erasure. Each alert sent is remembered (appeal and time) for the weekly cap and so that a job
run twice alerts nobody twice; a change of that list is made against the record's `version`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import UpdateOne
from pymongo.database import Database

from core.times import as_utc
from core.volunteers import WEEK, area_cells
from storage.places import open_place, seal_place
from storage.sealing import keyring

ALERT_SOURCE = "volunteer:"  # the outbox source of an alert: volunteer:<appeal>:<volunteer id>


def is_alert(source: object) -> bool:
    """Whether an outbox message with this `source` is a volunteer's alert (sent on the volunteers' lane)."""
    return str(source or "").startswith(ALERT_SOURCE)


def enrol_volunteer(db: Database, contact: str, details: dict[str, Any], language: str) -> ObjectId:
    """Keep the contact's alert area (replacing an earlier one, keeping its alert history for the cap)."""
    place, radius = details["place"], int(details["radius_km"])
    existing = db.volunteers.find_one({"contact": contact}, {"_id": 1, "alerts": 1, "version": 1})
    record = existing["_id"] if existing else ObjectId()
    doc = {
        "_id": record,
        "contact": contact,
        "place": seal_place(place, keyring(), record),
        "radius_km": radius,
        "cells": area_cells(place["latitude"], place["longitude"], radius),
        "quiet": list(details["quiet"]),
        "cap": int(details["cap"]),
        "language": language,
        "alerts": (existing or {}).get("alerts") or [],
        "version": int((existing or {}).get("version") or 0) + 1,
        "since": datetime.now(UTC),
    }
    db.volunteers.replace_one({"contact": contact}, doc, upsert=True)
    return record


def is_volunteer(db: Database, contact: str) -> bool:
    return db.volunteers.find_one({"contact": contact}, {"_id": 1}) is not None


def volunteers_in_cells(db: Database, cells: list[str]) -> list[dict[str, Any]]:
    """The volunteers whose area touches any of these cells, their place opened (one `$in` on the cells index)."""
    fields = {"contact": 1, "place": 1, "radius_km": 1, "quiet": 1, "cap": 1, "language": 1, "alerts": 1, "version": 1}
    found = list(db.volunteers.find({"cells": {"$in": cells}}, fields))
    for doc in found:
        doc["place"] = open_place(doc["place"], keyring(), doc["_id"])
    return found


def reserve_alerts(db: Database, volunteers: list[dict[str, Any]], appeal: str, now: datetime) -> int:
    """Count this appeal's alert against each volunteer's week, if their record is as read, in one round trip.

    Each change is made against the version read, so one made in between (`stop`, another appeal's alert) wins.
    How many took it; `alerted_of` tells which.
    """
    if not volunteers:
        return 0
    writes = [UpdateOne(*_reservation(v, appeal, now)) for v in volunteers]
    return db.volunteers.bulk_write(writes, ordered=False).modified_count


def alerted_of(db: Database, volunteer_ids: list[ObjectId], appeal: str) -> set[ObjectId]:
    """Those of these volunteers still enrolled whose alerts hold this appeal (reserved now or by an earlier run).

    One `$in` read after the reservations: a record that changed in between (`stop`, another appeal's alert,
    a new area) did not take it, and a stopped volunteer is gone.
    """
    found = db.volunteers.find({"_id": {"$in": volunteer_ids}}, {"alerts": 1})
    return {doc["_id"] for doc in found if any(a.get("appeal") == appeal for a in doc.get("alerts") or [])}


def _reservation(volunteer: dict[str, Any], appeal: str, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """The filter (the record as read: contact and version) and update that count an alert against the week."""
    recent = [alert for alert in volunteer.get("alerts") or [] if now - as_utc(alert["at"]) < WEEK]
    update = {"$set": {"alerts": [*recent, {"appeal": appeal, "at": now}]}, "$inc": {"version": 1}}
    return {"contact": volunteer["contact"], "version": volunteer.get("version", 0)}, update


def stop_volunteer(db: Database, contact: str) -> int:
    """End the alerts at once: the record, and the contact's alerts still waiting in the outbox."""
    deleted = db.volunteers.delete_many({"contact": contact}).deleted_count
    waiting = db.outbox.find({"contact": contact, "status": "pending"}, {"source": 1})
    unsent = [doc["_id"] for doc in waiting if is_alert(doc.get("source"))]
    if unsent:
        db.outbox.delete_many({"_id": {"$in": unsent}})
    return deleted
