"""Answer a contact's pending messages, one at a time and in order.

Each message is handled in two phases. First the dialog decides and its
effects run (each safe to repeat), and the decision is written on the
message as its plan. Then the plan is applied: state saved, replies queued,
message closed. A crash anywhere is retried without asking the dialog twice.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from core.conversation.catalog import DEFAULT_LANGUAGE, render
from core.conversation.dialog import step
from core.conversation.messages import Inbound, Reply, inbound_from_doc
from core.conversation.rate import rate_decision
from core.conversation.state import Context, State
from storage.cases import case_summaries
from storage.contacts import load_state, save_state
from storage.inbound import finish_inbound, pending_inbound, save_plan, sender_of
from storage.outbox import queue_outbound
from workers.context import WorkerContext, current
from workers.effects import execute
from workers.queue import enqueue_outbox

LOCK_TIMEOUT_S = 300


def process_conversation(inbound_id: str) -> int:
    """Handle every pending message of this message's contact, oldest first; return how many."""
    context = current()
    contact = sender_of(context.connections.db, inbound_id)
    if contact is None:
        return 0  # erased meanwhile, or already handled and tidied
    lock = context.connections.redis.lock(
        f"lock:conversation:{contact}", timeout=LOCK_TIMEOUT_S, blocking_timeout=LOCK_TIMEOUT_S
    )
    with lock:
        handled, first_reply = 0, None
        for doc in pending_inbound(context.connections.db, contact):
            first_reply = first_reply or _handle(context, doc)
            handled += 1
    if first_reply is not None:
        assert context.queue is not None
        enqueue_outbox(context.queue, str(first_reply))
    return handled


def _handle(context: WorkerContext, doc: dict[str, Any]) -> Any:
    """Apply one message's plan; return the id of its first queued reply, if any."""
    message = inbound_from_doc(doc)
    plan = doc.get("plan") or _decide(context, doc["_id"], message)
    db = context.connections.db
    if plan["state"] is not None:
        save_state(db, message.contact, message.channel, message.chat_id, State.from_doc(plan["state"]))
    queued = [
        queue_outbound(
            db,
            message.contact,
            message.channel,
            message.chat_id,
            text,
            source=f"{doc['_id']}:{index}",
            erase_after_send=plan["erased"],
        )
        for index, text in enumerate(plan["replies"])
    ]
    finish_inbound(db, doc["_id"], plan["status"])
    return queued[0] if queued else None


def _decide(context: WorkerContext, inbound_id: Any, message: Inbound) -> dict[str, Any]:
    db, settings = context.connections.db, context.settings
    verdict = rate_decision(_count_this_minute(context, message.contact), settings.chat_rate_per_minute)
    state = load_state(db, message.contact)
    if verdict != "process":
        replies = [render(Reply("rate_limited"), _language(state))] if verdict == "notice" else []
        plan = {"state": None, "replies": replies, "erased": False, "status": "rate_limited"}
    else:
        now = datetime.now(ZoneInfo(settings.timezone))
        dialog_context = Context(
            now=now, cases=case_summaries(db, message.contact), max_photo_bytes=settings.max_photo_bytes
        )
        outcome = step(state, message, dialog_context)
        results = execute(context, message, outcome.effects)
        language = _language(outcome.state)  # the outcome's: a language command is answered in the new one
        replies = [render(reply, language, results.values) for reply in outcome.replies + results.extra_replies]
        saved = None if results.erased else outcome.state.to_doc()
        plan = {"state": saved, "replies": replies, "erased": results.erased, "status": "done"}
    save_plan(db, inbound_id, plan)
    return plan


def _language(state: State) -> str:
    return state.language or DEFAULT_LANGUAGE


def _count_this_minute(context: WorkerContext, contact: str) -> int:
    key = f"rate:{contact}:{int(time.time() // 60)}"
    pipe = context.connections.redis.pipeline()
    pipe.incr(key)
    pipe.expire(key, 120)
    return int(pipe.execute()[0])
