"""Answer a contact's pending messages, one at a time and in order.

Each message is handled in two phases. First the dialog decides and its
effects run (each safe to repeat), and the decision is written on the
message as its plan. Then the plan is applied: state saved, replies queued,
message closed. A crash anywhere is retried without asking the dialog twice.

One message that cannot be handled does not hold up the ones behind it: it
is marked failed, its sender is asked to send it again, and the next message
goes on. Only an outage (MongoDB or Redis unreachable) stops the job, for RQ
to retry it with the order kept.
"""

from __future__ import annotations

import logging
import time
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rq.timeouts import JobTimeoutException

from core.conversation.catalog import DEFAULT_LANGUAGE, render
from core.conversation.dialog import detect_language, step
from core.conversation.messages import Inbound, Reply, contacts_acting_as, inbound_from_doc
from core.conversation.rate import rate_decision, rate_key
from core.conversation.references import APPEAL_PREFIX, find_reference
from core.conversation.state import Context, State
from services.appeals import scan_status
from services.queue import Job, enqueue_outbox, is_temporary, runs
from storage.cases import case_summaries, draft_owner
from storage.contacts import load_state, save_state
from storage.inbound import (
    fail_inbound,
    finish_inbound,
    first_pending_inbound,
    note_inbound_error,
    save_plan,
    sender_of,
    start_attempt,
)
from storage.outbox import queue_outbound, queue_replies
from storage.photos import has_location
from storage.volunteers import is_volunteer
from workers.context import WorkerContext, current
from workers.effects import execute
from workers.locks import Held, take_turns

ROOT = Path(__file__).resolve().parent.parent

# A message tried this many times without an answer (crashes, outages, timeouts) is given up on.
MAX_ATTEMPTS = 5
log = logging.getLogger(__name__)


@runs(Job.ANSWER_CONVERSATION)
def process_conversation(inbound_id: str) -> int:
    """Handle every pending message of this message's contact, oldest first; return how many.

    One job at a time answers a contact. A job woken while another answers ends as soon as that one has
    taken its message over (workers/locks.py `take_turns`), so a burst from one person holds one worker.
    """
    context = current()
    contact = sender_of(context.connections.db, inbound_id)
    if contact is None:
        return 0  # erased meanwhile, or already handled and tidied
    key = f"lock:conversation:{contact}"
    return take_turns(context.connections.redis, key, "conversation", lambda held: _answer(context, contact, held))


def _answer(context: WorkerContext, contact: str, held: Held) -> int:
    """Answer the contact's pending messages one at a time, looking again before each; return how many."""
    handled, first_reply = 0, None
    try:
        while True:
            held.looking()
            doc = first_pending_inbound(context.connections.db, contact)
            if doc is None:
                return handled
            held.check()
            reply = _attempt(context, doc)
            first_reply = first_reply or reply
            handled += 1
    finally:
        if first_reply is not None:  # replies already queued go out even if a later message waits for a retry
            assert context.queue is not None
            enqueue_outbox(context.queue, str(first_reply))


def _attempt(context: WorkerContext, doc: dict[str, Any]) -> Any:
    """Handle one message; one that cannot be handled is failed with an apology, and the next one goes on.

    A temporary error (database or Redis unreachable) is raised instead, so RQ retries the job with the order
    kept; after MAX_ATTEMPTS tries of any kind the message is given up on all the same.
    """
    db = context.connections.db
    attempts = start_attempt(db, doc)
    if attempts > MAX_ATTEMPTS:
        return _give_up(context, doc, f"gave up after {MAX_ATTEMPTS} attempts; last: {doc.get('error') or 'unknown'}")
    try:
        return _handle(context, doc)
    except JobTimeoutException:
        raise  # the job's time is up: the attempt is counted, the retry goes on from here
    except Exception as exc:
        error = describe(exc)
        if is_temporary(exc) and attempts < MAX_ATTEMPTS:
            note_inbound_error(db, doc["_id"], error)
            raise
        return _give_up(context, doc, error)


def _give_up(context: WorkerContext, doc: dict[str, Any], error: str) -> Any:
    """Mark the message failed and tell its sender what to do; return the apology's outbox id."""
    db = context.connections.db
    log.error("gave up on inbound message %s: %s", doc["_id"], error)
    # The apology first: queued once per message, so a crash before the next line repeats nothing.
    apology = queue_outbound(
        db,
        doc["contact"],
        doc["channel"],
        doc["chat_id"],
        render(Reply("message_failed")),
        source=f"{doc['_id']}:failed",
    )
    fail_inbound(db, doc["_id"], error)
    return apology


def describe(exc: BaseException) -> str:
    """An error's type and where it was raised, for operators; never its message, which may quote what was sent."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    where = frames[-1]
    return f"{type(exc).__name__} at {_relative(where.filename)}:{where.lineno} in {where.name}"


def _relative(filename: str) -> str:
    path = Path(filename)
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return path.name


def _handle(context: WorkerContext, doc: dict[str, Any]) -> Any:
    """Apply one message's plan; return the id of its first queued reply, if any."""
    message = inbound_from_doc(doc)
    replayed = doc.get("plan")  # decided by an earlier try, which may have queued some of its replies
    plan = replayed or _decide(context, doc["_id"], message)
    db = context.connections.db
    if plan["state"] is not None:
        save_state(db, message.contact, message.channel, message.chat_id, State.from_doc(plan["state"]))
    where = (message.contact, message.channel, message.chat_id)
    if replayed:
        queued = [
            queue_outbound(db, *where, text, source=f"{doc['_id']}:{index}", erase_after_send=plan["erased"])
            for index, text in enumerate(plan["replies"])
        ]
    else:
        queued = queue_replies(db, *where, plan["replies"], str(doc["_id"]), plan["erased"])
    finish_inbound(db, doc["_id"], plan["status"])
    return queued[0] if queued else None


def _decide(context: WorkerContext, inbound_id: Any, message: Inbound) -> dict[str, Any]:
    db, settings = context.connections.db, context.settings
    verdict = rate_decision(_count_last_minute(context, message.contact, inbound_id), settings.chat_rate_per_minute)
    state = load_state(db, message.contact)
    if verdict != "process":
        replies = [render(Reply("rate_limited"), _language(state))] if verdict == "notice" else []
        plan = {"state": None, "replies": replies, "erased": False, "status": "rate_limited"}
    elif message.group:
        # One contact would be every member of the group: nothing is kept, the sender is sent to a private chat.
        reply = render(Reply("private_chat_only"), detect_language(message) or DEFAULT_LANGUAGE)
        plan = {"state": None, "replies": [reply], "erased": False, "status": "refused"}
    else:
        now = datetime.now(ZoneInfo(settings.timezone))
        dialog_context = Context(
            now=now,
            cases=case_summaries(db, contacts_acting_as(message.contact)),
            max_photo_bytes=settings.max_photo_bytes,
            photo_place=state.flow == "sighting" and has_location(db, draft_owner(message.contact)),
            scanned=_scanned(db, message.text),
            volunteer=is_volunteer(db, message.contact),
        )
        outcome = step(state, message, dialog_context)
        results = execute(context, message, outcome.effects)
        language = _language(outcome.state)  # the outcome's: a language command is answered in the new one
        replies = [render(reply, language, results.values) for reply in outcome.replies + results.extra_replies]
        saved = None if results.erased else outcome.state.to_doc()
        plan = {"state": saved, "replies": replies, "erased": results.erased, "status": "done"}
    save_plan(db, inbound_id, plan)
    return plan


def _scanned(db: Any, text: str) -> tuple[str, str] | None:
    """An appeal named in the message (a poster's code) and what it is now, for the dialog."""
    reference = find_reference(text, APPEAL_PREFIX)
    return (reference, scan_status(db, reference)) if reference else None


def _language(state: State) -> str:
    return state.language or DEFAULT_LANGUAGE


def _count_last_minute(context: WorkerContext, contact: str, inbound_id: Any) -> int:
    """This contact's messages in the 60 s up to now, each counted once (a retried job does not count it again).

    A sliding minute, not the clock's: a flood across a minute's turn would otherwise get twice the limit through.
    """
    now, key = time.time(), rate_key(contact)
    pipe = context.connections.redis.pipeline()
    pipe.zadd(key, {str(inbound_id): now}, nx=True)
    pipe.zremrangebyscore(key, "-inf", now - 60)
    pipe.zcard(key)
    pipe.expire(key, 61)
    return int(pipe.execute()[2])
