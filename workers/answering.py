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
from dataclasses import dataclass
from datetime import UTC, datetime
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
from storage.contacts import conversation_of, save_state
from storage.inbound import (
    fail_inbound,
    finish_inbound,
    note_inbound_error,
    pending_inbound,
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
from workers.outbox import send_now

ROOT = Path(__file__).resolve().parent.parent

# A message tried this many times without an answer (crashes, outages, timeouts) is given up on.
MAX_ATTEMPTS = 5
log = logging.getLogger(__name__)


# Messages read in one look: a burst's few at once (each after the first says the job is still at work,
# workers/locks.py `Held.at_work`, so a job woken meanwhile leaves its message to this one).
BATCH = 5


@dataclass
class Answered:
    """What a conversation job did: its first queued reply (what a send job is named by) and the latest message."""

    first_reply: Any = None
    last_received: datetime | None = None


@runs(Job.ANSWER_CONVERSATION)
def process_conversation(inbound_id: str) -> int:
    """Handle every pending message of this message's contact, oldest first, then send the replies; return how many.

    One job at a time answers a contact. A job woken while another answers ends as soon as that one has
    taken its message over (workers/locks.py `take_turns`), so a burst from one person holds one worker.
    The replies go out in the same job (workers/outbox.py `send_now`): one job a message, not two.
    """
    context = current()
    contact = sender_of(context.connections.db, inbound_id)
    if contact is None:
        return 0  # erased meanwhile, or already handled and tidied
    key, answered = f"lock:conversation:{contact}", Answered()
    handled = take_turns(
        context.connections.redis, key, "conversation", lambda held: _answer(context, contact, held, answered)
    )
    if answered.first_reply is not None:
        send_now(context, contact, str(answered.first_reply), answered.last_received or _now())
    return handled


def _answer(context: WorkerContext, contact: str, held: Held, answered: Answered) -> int:
    """Answer the contact's pending messages in order, a few read at once; return how many.

    After a batch shorter than BATCH nothing is left that this job was told of: a message stored after the
    look wakes a job that sets the wake flag, and `take_turns` looks again for it once this returns.
    """
    handled = 0
    try:
        while True:
            held.looking()
            docs = pending_inbound(context.connections.db, contact, BATCH)
            for index, doc in enumerate(docs):
                held.check()
                if index:
                    held.at_work()
                reply = _attempt(context, doc)
                answered.first_reply = answered.first_reply or reply
                answered.last_received = doc.get("received_at") or answered.last_received
                handled += 1
            if len(docs) < BATCH:
                return handled
    except BaseException:
        if answered.first_reply is not None:  # replies already queued go out even if a later message waits for a retry
            assert context.queue is not None
            enqueue_outbox(context.queue, str(answered.first_reply))
            answered.first_reply = None
        raise


def _attempt(context: WorkerContext, doc: dict[str, Any]) -> Any:
    """Handle one message; one that cannot be handled is failed with an apology, and the next one goes on.

    A temporary error (database or Redis unreachable) is raised instead, so RQ retries the job with the order
    kept; after MAX_ATTEMPTS tries of any kind the message is given up on all the same.
    """
    db = context.connections.db
    attempts = start_attempt(db, doc)
    if attempts == 0:
        return None  # gone since the look (an erasure asked for by a message before it): nothing to answer
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
    """Apply one message's plan; return the id of its first queued reply, if any.

    A plan that changes the state is kept with it, in the one write that saves the state; one that does not
    (rate limited, a group, an erasure) on the message. A retry finds either and queues what is missing of its
    replies without asking the dialog again.
    """
    db = context.connections.db
    message = inbound_from_doc(doc)
    conversation = conversation_of(db, message.contact)
    kept = (conversation or {}).get("plan")
    replayed = doc.get("plan") or (kept if kept and kept.get("inbound") == doc["_id"] else None)
    plan = replayed or _decide(context, doc["_id"], message, conversation)
    if doc.get("plan") and plan["state"] is not None:  # kept on the message by an older version: save it now
        save_state(db, message.contact, message.channel, message.chat_id, State.from_doc(plan["state"]))
    where = (message.contact, message.channel, message.chat_id)
    if replayed:
        queued = [
            queue_outbound(db, *where, text, source=f"{doc['_id']}:{index}", erase_after_send=plan["erased"])
            for index, text in enumerate(plan["replies"])
        ]
    else:
        counter_new = conversation is None  # a first message: its contact has no outbox counter either, mostly
        queued = queue_replies(db, *where, plan["replies"], str(doc["_id"]), plan["erased"], counter_new)
    finish_inbound(db, doc["_id"], plan["status"])
    return queued[0] if queued else None


def _decide(
    context: WorkerContext, inbound_id: Any, message: Inbound, conversation: dict[str, Any] | None
) -> dict[str, Any]:
    """Ask the dialog (its effects run here, each safe to repeat) and keep its plan before any of it is applied."""
    plan = decide(context, message, conversation, _count_last_minute(context, message.contact, inbound_id))
    db = context.connections.db
    if plan["state"] is None:
        save_plan(db, inbound_id, plan)
    else:  # the state and the plan in one write (the replies without the state, which is saved beside them)
        save_state(
            db, message.contact, message.channel, message.chat_id, State.from_doc(plan["state"]), kept(plan, inbound_id)
        )
    return plan


def kept(plan: dict[str, Any], inbound_id: Any) -> dict[str, Any]:
    """What of a plan is kept with the state it saves: which message it answers, and its replies."""
    return {"inbound": inbound_id} | {key: value for key, value in plan.items() if key != "state"}


def decide(
    context: WorkerContext, message: Inbound, conversation: dict[str, Any] | None, recent: int
) -> dict[str, Any]:
    """The dialog's plan for a message, `recent` being the contact's messages in the last minute; nothing kept yet."""
    verdict = rate_decision(recent, context.settings.chat_rate_per_minute)
    state = State.from_doc((conversation or {}).get("state"))
    if verdict != "process":
        replies = [render(Reply("rate_limited"), _language(state))] if verdict == "notice" else []
        plan = {"state": None, "replies": replies, "erased": False, "status": "rate_limited"}
    elif message.group:
        # One contact would be every member of the group: nothing is kept, the sender is sent to a private chat.
        reply = render(Reply("private_chat_only"), detect_language(message) or DEFAULT_LANGUAGE)
        plan = {"state": None, "replies": [reply], "erased": False, "status": "refused"}
    else:
        outcome = step(state, message, _dialog_context(context, message, state))
        results = execute(context, message, outcome.effects)
        language = _language(outcome.state)  # the outcome's: a language command is answered in the new one
        replies = [render(reply, language, results.values) for reply in outcome.replies + results.extra_replies]
        saved = None if results.erased else outcome.state.to_doc()
        plan = {"state": saved, "replies": replies, "erased": results.erased, "status": "done"}
    return plan


def _dialog_context(context: WorkerContext, message: Inbound, state: State) -> Context:
    """What the dialog may know besides the message and the state."""
    db, settings = context.connections.db, context.settings
    return Context(
        now=datetime.now(ZoneInfo(settings.timezone)),
        cases=lambda: case_summaries(db, contacts_acting_as(message.contact)),  # read only if the dialog asks
        max_photo_bytes=settings.max_photo_bytes,
        photo_place=state.flow == "sighting" and has_location(db, draft_owner(message.contact)),
        scanned=_scanned(db, message.text),
        volunteer=lambda: is_volunteer(db, message.contact),
    )


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
    return count_last_minute(context, [(contact, inbound_id)])[0]


def count_last_minute(context: WorkerContext, messages: list[tuple[str, Any]]) -> list[int]:
    """`_count_last_minute` for many (contact, message id) pairs in one Redis round trip."""
    now, pipe = time.time(), context.connections.redis.pipeline()
    for contact, inbound_id in messages:
        key = rate_key(contact)
        pipe.zadd(key, {str(inbound_id): now}, nx=True)
        pipe.zremrangebyscore(key, "-inf", now - 60)
        pipe.zcard(key)
        pipe.expire(key, 61)
    answers = pipe.execute()
    return [int(answers[4 * index + 2]) for index in range(len(messages))]


def _now() -> datetime:
    return datetime.now(UTC)
