"""Alert volunteers near an approved appeal's last-seen place: chosen by grid cells, sent through the outbox.

The appeal's record is the truth: approving it renders the posters (workers/appeals.py), which queues this
selection on the volunteers' lane. Each volunteer's alert is counted against their week once
(storage/volunteers.py `reserve_alerts`, against the record as read, so a `stop` or another appeal's alert in
between wins) and queued once (the outbox source names appeal and volunteer), so running it twice alerts nobody
twice. Volunteers in their quiet hours are looked at again when those end. Recipients go in chunks, each in a
few round trips (bulk writes, `$in` reads, one Redis pipeline), and between chunks the selection gives way
while the chat has a backlog: a large appeal is queued in a minute or two, and never ahead of an answer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rq import Queue

from config import Settings
from core.appeals.links import page_link
from core.appeals.place import appeal_place
from core.conversation.catalog import text
from core.places import coordinates
from core.volunteers import alerts_this_week, covers, in_quiet_hours, point_cells, quiet_ends
from services.queue import (
    VOLUNTEERS_QUEUE,
    chat_backlog,
    enqueue_outbox,
    enqueue_outboxes,
    enqueue_volunteer_alerts,
)
from storage.appeals import find_appeal, note_volunteers
from storage.cases import find_case
from storage.connections import Database
from storage.contacts import find_contacts
from storage.outbox import Outgoing, outbox_source, queue_outbound_many
from storage.volunteers import ALERT_SOURCE, alerted_of, is_alert, reserve_alerts, volunteers_in_cells

LOOK_AGAIN_WITHIN = timedelta(hours=24)  # volunteers in quiet hours are alerted when they end, within a day
# Volunteers handled together: each chunk costs five database round trips and one Redis pipeline, whatever its
# size (one by one, seven round trips a volunteer: 27 s for 986 alerts); 500 keeps each `$in` and write small.
CHUNK = 500
# Between chunks the selection gives way to the chat: while more chat jobs wait than this (the chat's workers are
# behind), it pauses, at most GIVE_WAY_S per chunk, so a large appeal does not hold the database and the cores
# while people wait for an answer (the alerts' sending gives way already: workers take the chat lanes first).
CHAT_BACKLOG = 5
GIVE_WAY_S = 10.0


@dataclass
class Reach:
    """What an appeal's selection found: alerted (now or before), in quiet hours, at their weekly cap."""

    alerted: int = 0
    quiet: int = 0
    capped: int = 0
    next_look: datetime | None = None


def recipients(db: Database, place: tuple[float, float]) -> list[dict[str, Any]]:
    """The volunteers whose area holds the place: candidates by cell (indexed), then the exact distance."""
    found = volunteers_in_cells(db, point_cells(*place))
    return [v for v in found if (at := coordinates(v["place"])) and covers(at, int(v["radius_km"]), place)]


def alert(db: Database, queue: Queue, reference: str, settings: Settings, chunk: int = CHUNK) -> Reach:
    """Queue the alert of one approved appeal to each volunteer near its last-seen place who may get it now."""
    appeal = find_appeal(db, reference)
    case = find_case(db, appeal["case"]) if appeal else None
    place = appeal_place(case or {}, appeal or {})  # a typed place: the city the reviewer chose, if any
    reach = Reach()
    if appeal is None or appeal["status"] != "approved" or place is None:
        return reach  # ended meanwhile, or a typed place: no coordinates to measure from
    now = datetime.now(ZoneInfo(settings.timezone))
    chosen = [v for v in recipients(db, place) if v["contact"] != appeal["contact"]]  # the family has its posters
    for first in range(0, len(chosen), chunk):
        _give_way(queue)
        _alert_chunk(db, queue, appeal, chosen[first : first + chunk], now, reach, settings)
    note_volunteers(db, reference, {"alerted": reach.alerted, "quiet": reach.quiet, "capped": reach.capped})
    approved_at = appeal.get("decided_at") or now
    if reach.next_look and reach.next_look - _aware(approved_at, now) < LOOK_AGAIN_WITHIN:
        enqueue_volunteer_alerts(queue, reference, at=reach.next_look)
    return reach


def _alert_chunk(
    db: Database, queue: Queue, appeal: dict[str, Any], volunteers: list[dict[str, Any]], now: datetime,
    reach: Reach, settings: Settings,
) -> None:  # fmt: skip
    """Reserve, queue and wake a chunk of volunteers' alerts: four round trips and one Redis pipeline.

    The reservations are read back only when some did not take (a record changed or gone since it was read) or
    were taken before (a second run). A `stop` after them deletes the alerts waiting in the outbox, and the
    outbox sends no alert to a contact who is no longer a volunteer (workers/outbox.py).
    """
    reference = appeal["reference"]
    ways = {v["_id"]: _may_get(v, reference, now, reach) for v in volunteers}
    reserving = [v for v in volunteers if ways[v["_id"]] == "reserve"]
    going = [v for v in volunteers if ways[v["_id"]] in ("reserve", "already")]
    if reserve_alerts(db, reserving, reference, now) < len(going):  # some changed or stopped meanwhile, or a rerun
        taken = alerted_of(db, [v["_id"] for v in going], reference)
        going = [v for v in going if v["_id"] in taken]
    contacts = find_contacts(db, [v["contact"] for v in going])
    page = page_link(settings.public_base_url, appeal["token"])
    messages = [_message(appeal, v, contact, page) for v in going if (contact := contacts.get(v["contact"]))]
    outbox_ids = queue_outbound_many(db, messages)  # those queued before were woken then (or by the reconciler)
    enqueue_outboxes(queue, [str(outbox_id) for outbox_id in outbox_ids], lane=VOLUNTEERS_QUEUE)
    reach.alerted += len(messages)


def _give_way(queue: Queue) -> None:
    """Wait while the chat has a backlog, up to GIVE_WAY_S: the appeal goes out a little later, nobody waits longer."""
    deadline = time.monotonic() + GIVE_WAY_S
    while chat_backlog(queue.connection) > CHAT_BACKLOG and time.monotonic() < deadline:
        time.sleep(0.2)


def _message(appeal: dict[str, Any], volunteer: dict[str, Any], contact: dict[str, Any], page: str) -> Outgoing:
    """One volunteer's alert: in their language, the phone poster as its picture, keyed by appeal and volunteer."""
    name = (appeal.get("choices") or {}).get("name") or ""
    return Outgoing(
        volunteer["contact"],
        contact["channel"],
        contact["chat_id"],
        text("volunteer_alert", volunteer.get("language") or "en", name=name, page=page),
        source=f"{ALERT_SOURCE}{appeal['reference']}:{volunteer['_id']}",
        about=appeal["case"],
        poster={"appeal": appeal["reference"], "kind": "phone.png"},
        lane=VOLUNTEERS_QUEUE,
    )


def _may_get(volunteer: dict[str, Any], reference: str, now: datetime, reach: Reach) -> str:
    """Whether this volunteer's alert is `already` reserved, to `reserve` now, or held (`quiet`, `capped`)."""
    alerts = volunteer.get("alerts") or []
    if any(a.get("appeal") == reference for a in alerts):
        return "already"
    quiet = tuple(volunteer.get("quiet") or (0, 0))
    if in_quiet_hours(quiet, now):  # type: ignore[arg-type]
        reach.quiet += 1
        ends = quiet_ends(quiet, now)  # type: ignore[arg-type]
        reach.next_look = min(reach.next_look or ends, ends)
        return "quiet"
    if alerts_this_week([_aware(a["at"], now) for a in alerts], now) >= volunteer["cap"]:
        reach.capped += 1
        return "capped"
    return "reserve"


def requeue_outbox(db: Database, queue: Queue, outbox_id: str) -> None:
    """Wake a contact's outbox again on the lane its message belongs to: a volunteer's alert never on the chat lane."""
    lane = VOLUNTEERS_QUEUE if is_alert(outbox_source(db, outbox_id)) else None
    enqueue_outbox(queue, outbox_id, lane=lane)


def _aware(moment: datetime, like: datetime) -> datetime:
    """MongoDB gives naive UTC back: on the clock of `like`."""
    return moment.replace(tzinfo=ZoneInfo("UTC")).astimezone(like.tzinfo) if moment.tzinfo is None else moment
