"""Public appeals: a reviewer's decision, the posters sent to the family, and the end that takes them down.

The appeal record (storage/appeals.py) is the truth: approving stores the decision and queues the render job
(workers/appeals.py), which stores the posters and queues the family's messages through the outbox; the
reconciler queues the job again for an approved appeal never sent. Ending is immediate: the record says
`ended` (its page answers 410 at once), the files are deleted, and the family is reminded to delete what
it forwarded. Every step is safe to run twice (messages are keyed by their source).
"""

from __future__ import annotations

from typing import Any

from rq import Queue

from config import Settings
from core.appeals.links import page_link
from core.cities import city_choices
from core.conversation.catalog import text
from core.places import coordinates
from services.queue import enqueue_appeal_render, enqueue_outbox
from storage.appeals import (
    appeal_by_token,
    decide_appeal,
    delete_posters,
    end_appeal,
    ended_with_posters,
    find_appeal,
    poster_bytes,
    request_appeal,
    running_appeal_cases,
)
from storage.audit import audit
from storage.cases import find_case, running_appeals
from storage.connections import Database
from storage.contacts import find_contact
from storage.outbox import queue_outbound

REASON_LIMIT = 500


class NotWaiting(Exception):
    """The appeal was decided or ended meanwhile: the page shows it as it is now."""


def request(
    db: Database, contact: str, case_reference: str, choices: dict[str, Any], language: str, source: str
) -> str:
    """Keep the family's request (once per confirming message); its AP reference. Nothing is public yet."""
    case = find_case(db, case_reference) or {}
    full = str(case.get("name") or "")
    shown = full if choices.get("full_name") else (full.split(" ")[0] if full else "")
    return request_appeal(db, contact, case_reference, choices | {"name": shown}, language, source)


def approve(db: Database, queue: Queue, reference: str, by: str, reason: str, city: str | None = None) -> None:
    """A reviewer's yes, with why it is safe to publish; the posters are made and sent by a job.

    For a case whose last-seen place was typed, `city` is the bundled city whose volunteers are alerted, "" or
    None for none (core/appeals/place.py); it is recorded with the decision and in the audit log.
    """
    city = _volunteers_city(db, reference, city)
    note = None if city is None else f"volunteers near {city.title()}" if city else "no volunteers alerted"
    _decide(db, reference, "approved", by, reason, city=city, note=note)
    enqueue_appeal_render(queue, reference)


def _volunteers_city(db: Database, reference: str, city: str | None) -> str | None:
    """The reviewer's city for a typed last-seen place, checked ("" for none); None for a shared location."""
    appeal = find_appeal(db, reference) or {}
    if coordinates((find_case(db, appeal.get("case") or "") or {}).get("place")) is not None:
        return None  # measured from where the family shared it
    if city and city not in dict(city_choices()):
        raise ValueError(f"'{city}' is not one of the bundled cities: choose one from the list, or none")
    return city or ""  # none chosen (or a form without the choice): no volunteer is alerted


def refuse(db: Database, queue: Queue, reference: str, by: str, reason: str) -> None:
    """A reviewer's no, with the reason the family reads."""
    _decide(db, reference, "refused", by, reason)
    appeal = find_appeal(db, reference) or {}
    case_name = (appeal.get("choices") or {}).get("name") or ""
    _tell(db, queue, appeal, "appeal_refused", f"appeal-refused:{reference}", reason=reason, name=case_name)


def _decide(
    db: Database, reference: str, status: str, by: str, reason: str, city: str | None = None, note: str | None = None
) -> None:
    reason = " ".join(reason.split())[:REASON_LIMIT]
    if not reason:
        raise ValueError("a reason is needed: say why it is safe to publish, or why not")
    audit(db, by, f"appeal {status}", f"appeal:{reference}", f"{reason}; {note}" if note else reason)
    if not decide_appeal(db, reference, status, by, reason, city):
        audit(db, by, f"appeal {status} refused", f"appeal:{reference}", "already decided or ended")
        raise NotWaiting(reference)


def end(db: Database, queue: Queue | None, reference: str, why: str) -> bool:
    """Take an appeal down at once (page 410, files deleted); the family is reminded if it had been public."""
    ended = end_appeal(db, reference, why)
    delete_posters(db, reference)  # also after a crash between the two: the reconciler calls this again
    if ended is None:
        return False
    if ended["status"] == "approved" and queue is not None:
        _tell(db, queue, ended, "appeal_ended_family", f"appeal-ended:{reference}")
    return True


def owned_by(db: Database, reference: str, contact: str) -> bool:
    appeal = find_appeal(db, reference)
    return appeal is not None and appeal["contact"] == contact


def end_for_case(db: Database, queue: Queue | None, case_reference: str, why: str) -> int:
    """End the case's running appeal (closed, found, reunited); how many ended."""
    return sum(end(db, queue, reference, why) for reference in _running_of_case(db, case_reference))


def _running_of_case(db: Database, case_reference: str) -> list[str]:
    appeal = running_appeals(db, [case_reference]).get(case_reference)
    return [appeal] if appeal else []


def send_posters(db: Database, queue: Queue, appeal: dict[str, Any], settings: Settings) -> bool:
    """Queue (once) the phone poster as a picture with the page's link, then the A4 PDF as a file to print or forward.

    False when there is nobody to tell (erased meanwhile).
    """
    page, reference = page_link(settings.public_base_url, appeal["token"]), appeal["reference"]
    told = _tell(
        db, queue, appeal, "appeal_approved", f"appeal-approved:{reference}",
        poster={"appeal": reference, "kind": "phone.png"}, page=page, pdf=f"{page}/poster-a4.pdf",
        name=(appeal.get("choices") or {}).get("name") or "",
    )  # fmt: skip
    poster = {"appeal": reference, "kind": "a4.pdf"}
    return told and _tell(db, queue, appeal, "appeal_pdf", f"appeal-approved-pdf:{reference}", poster=poster)


def _tell(
    db: Database, queue: Queue, appeal: dict[str, Any], key: str, source: str,
    poster: dict[str, str] | None = None, **params: Any,
) -> bool:  # fmt: skip
    family = find_contact(db, appeal["contact"]) if appeal else None
    if family is None:
        return False  # erased meanwhile
    message = text(key, appeal.get("language") or "en", appeal=appeal["reference"], reference=appeal["case"], **params)
    outbox_id = queue_outbound(
        db, family["contact"], family["channel"], family["chat_id"], message,
        source=source, about=appeal["case"], poster=poster,
    )  # fmt: skip
    enqueue_outbox(queue, str(outbox_id))
    return True


def poster_of(db: Database, reference: str, kind: str) -> bytes | None:
    """A running appeal's poster for the outbox; None once it ended (nothing is sent of an ended appeal)."""
    appeal = find_appeal(db, reference)
    if appeal is None or appeal["status"] != "approved":
        return None
    return poster_bytes(db, appeal, kind)


def poster_link(db: Database, base_url: str, reference: str, kind: str) -> str | None:
    """The public address of a running appeal's poster, for channels that fetch media by URL."""
    appeal = find_appeal(db, reference)
    if appeal is None or appeal["status"] != "approved":
        return None
    return f"{page_link(base_url, appeal['token'])}/poster-{kind}"


def tidy(db: Database, queue: Queue | None) -> int:
    """The reconciler's look: end appeals whose case closed or went without ending them, delete ended posters."""
    tidied = 0
    for reference, case_reference in running_appeal_cases(db):
        case = find_case(db, case_reference)
        if case is None or case.get("status") != "open":
            tidied += end(db, queue, reference, "closed" if case else "erased")
    for reference in ended_with_posters(db):
        tidied += delete_posters(db, reference) > 0
    return tidied


def shown(appeal: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
    """Only what the family chose to show: name, age, last-seen place (as typed: an area) and date, a line."""
    choices, seen = appeal.get("choices") or {}, case.get("time")
    where = choices.get("place")
    return {
        "name": choices.get("name") or "",
        "age": case.get("age") if choices.get("age") else None,
        "place": (case.get("place") or {}).get("text") or None if where else None,
        "seen_on": (seen.strftime("%d %b %Y") if seen else case.get("time_text")) if where else None,
        "description": choices.get("description") or None,
    }


def scan_status(db: Database, reference: str) -> str:
    """What a scanned code meets: 'active' (public now), 'ended', or 'unknown' (never public, or forged)."""
    appeal = find_appeal(db, reference)
    status = appeal["status"] if appeal else None
    return {"approved": "active", "ended": "ended"}.get(status or "", "unknown")


def public_appeal(db: Database, token: str) -> dict[str, Any] | None:
    """The appeal behind a public page's token, whatever its state; None for a token never issued."""
    return appeal_by_token(db, token) if token else None
