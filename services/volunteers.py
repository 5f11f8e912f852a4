"""Alert volunteers near an approved appeal's last-seen place: chosen by grid cells, sent through the outbox.

The appeal's record is the truth: approving it renders the posters (workers/appeals.py), which queues this
selection on the volunteers' lane. Each volunteer's alert is counted against their week once
(storage/volunteers.py `reserve_alert`) and queued once (the outbox source names appeal and volunteer), so
running it twice alerts nobody twice. Volunteers in their quiet hours are looked at again when those end.
"""

from __future__ import annotations

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
from services.queue import VOLUNTEERS_QUEUE, enqueue_outbox, enqueue_volunteer_alerts
from storage.appeals import find_appeal, note_volunteers
from storage.cases import find_case
from storage.connections import Database
from storage.contacts import find_contact
from storage.outbox import outbox_source, queue_outbound
from storage.volunteers import ALERT_SOURCE, is_alert, reserve_alert, still_volunteer, volunteers_in_cells

LOOK_AGAIN_WITHIN = timedelta(hours=24)  # volunteers in quiet hours are alerted when they end, within a day


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


def alert(db: Database, queue: Queue, reference: str, settings: Settings) -> Reach:
    """Queue the alert of one approved appeal to each volunteer near its last-seen place who may get it now."""
    appeal = find_appeal(db, reference)
    case = find_case(db, appeal["case"]) if appeal else None
    place = appeal_place(case or {}, appeal or {})  # a typed place: the city the reviewer chose, if any
    reach = Reach()
    if appeal is None or appeal["status"] != "approved" or place is None:
        return reach  # ended meanwhile, or a typed place: no coordinates to measure from
    now = datetime.now(ZoneInfo(settings.timezone))
    for volunteer in recipients(db, place):
        if volunteer["contact"] == appeal["contact"]:
            continue  # the family has its own posters
        _alert_one(db, queue, appeal, volunteer, now, reach, settings)
    note_volunteers(db, reference, {"alerted": reach.alerted, "quiet": reach.quiet, "capped": reach.capped})
    approved_at = appeal.get("decided_at") or now
    if reach.next_look and reach.next_look - _aware(approved_at, now) < LOOK_AGAIN_WITHIN:
        enqueue_volunteer_alerts(queue, reference, at=reach.next_look)
    return reach


def _alert_one(
    db: Database, queue: Queue, appeal: dict[str, Any], volunteer: dict[str, Any], now: datetime,
    reach: Reach, settings: Settings,
) -> None:  # fmt: skip
    reference = appeal["reference"]
    already = any(a.get("appeal") == reference for a in volunteer.get("alerts") or [])
    if not already:
        quiet = tuple(volunteer.get("quiet") or (0, 0))
        if in_quiet_hours(quiet, now):  # type: ignore[arg-type]
            reach.quiet += 1
            ends = quiet_ends(quiet, now)  # type: ignore[arg-type]
            reach.next_look = min(reach.next_look or ends, ends)
            return
        if alerts_this_week([_aware(a["at"], now) for a in volunteer.get("alerts") or []], now) >= volunteer["cap"]:
            reach.capped += 1
            return
        if not reserve_alert(db, volunteer, reference, now):
            return  # stopped, or changed by another appeal's alert meanwhile: its next look decides
    contact = find_contact(db, volunteer["contact"])
    if contact is None or not still_volunteer(db, volunteer["_id"]):
        return
    page = page_link(settings.public_base_url, appeal["token"])
    name = (appeal.get("choices") or {}).get("name") or ""
    message = text("volunteer_alert", volunteer.get("language") or "en", name=name, page=page)
    outbox_id = queue_outbound(
        db, volunteer["contact"], contact["channel"], contact["chat_id"], message,
        source=f"{ALERT_SOURCE}{reference}:{volunteer['_id']}", about=appeal["case"],
        poster={"appeal": reference, "kind": "phone.png"},
    )  # fmt: skip
    enqueue_outbox(queue, str(outbox_id), lane=VOLUNTEERS_QUEUE)
    reach.alerted += 1


def requeue_outbox(db: Database, queue: Queue, outbox_id: str) -> None:
    """Wake a contact's outbox again on the lane its message belongs to: a volunteer's alert never on the chat lane."""
    lane = VOLUNTEERS_QUEUE if is_alert(outbox_source(db, outbox_id)) else None
    enqueue_outbox(queue, outbox_id, lane=lane)


def _aware(moment: datetime, like: datetime) -> datetime:
    """MongoDB gives naive UTC back: on the clock of `like`."""
    return moment.replace(tzinfo=ZoneInfo("UTC")).astimezone(like.tzinfo) if moment.tzinfo is None else moment
