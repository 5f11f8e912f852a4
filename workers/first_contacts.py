"""Answer many people's first messages in one job: what keeps the bot answering when an appeal goes viral.

Thousands of people then write for the first time within minutes, each a "hi" that gets the consent
question. Answered one job each (workers/answering.py), each costs some fifteen database round trips; here
ten of them share each read and write, so the database (the first thing to saturate on two cores) does a
third of the work per person (docs/evaluation/bench.md).

It is only a faster road to the same place. The job takes each contact's locks (conversation and outbox) at
once and keeps the one-contact job's steps and records: the plan saved with the state, the replies stored
claimed before they are sent, the witness of each platform call. It counts no attempt: a message comes
through here once (taken from the line), and should it kill the job, the reconciler gives it to the
one-contact job, which counts its tries and gives up on it after MAX_ATTEMPTS. Whatever is not plain
(a contact who is known after all, a photo, a second message, a plan without a state, a lock taken by
another job, an error) goes to the one-contact job, which answers it in order as it always did. Should
this job die anywhere, its messages are pending or its replies claimed, and the reconciler wakes them.
"""

from __future__ import annotations

import logging
from typing import Any

from core.conversation.messages import inbound_from_doc
from services.queue import FIRST_CONTACTS_BATCH, FIRST_CONTACTS_LINE, Job, enqueue_conversation, enqueue_outbox, runs
from storage.contacts import find_contacts, save_new_states
from storage.inbound import finish_many, pending_by_ids, pending_of_contacts, save_plan
from storage.outbox import pending_outbound, queue_first_replies
from workers.answering import MAX_ATTEMPTS, count_last_minute, decide, kept, process_conversation
from workers.context import WorkerContext, current
from workers.locks import HeldMany, hold_many
from workers.outbox import send_claimed

log = logging.getLogger(__name__)


@runs(Job.ANSWER_FIRST_CONTACTS)
def answer_first_contacts(inbound_id: str) -> int:
    """Answer up to FIRST_CONTACTS_BATCH first messages waiting in line (this one's among them); how many here.

    The line holds message ids (services/queue.py `wake_first_contacts`); a job that finds it empty ends.
    """
    context = current()
    taken = context.connections.redis.lpop(FIRST_CONTACTS_LINE, FIRST_CONTACTS_BATCH) or []
    ids = [item.decode() if isinstance(item, bytes) else str(item) for item in taken]
    docs = pending_by_ids(context.connections.db, ids) if ids else []
    if not docs:
        return 0
    contacts = list(dict.fromkeys(doc["contact"] for doc in docs))
    keys = {contact: (f"lock:conversation:{contact}", f"lock:outbox:{contact}") for contact in contacts}
    held = hold_many(context.connections.redis, [key for pair in keys.values() for key in pair])
    mine = [contact for contact in contacts if all(key in held.tokens for key in keys[contact])]
    busy = {doc["contact"]: doc["_id"] for doc in docs if doc["contact"] not in mine}  # another job answers them
    rest: dict[str, Any] = {}  # this job answers them after the batch, one contact at a time
    answered = 0
    try:
        held.looking()
        answered = _answer(context, mine, held, rest)
    except Exception as exc:  # noqa: BLE001 - an outage or a fault: one-contact jobs answer the rest, in order
        log.warning("a batch of first messages stopped (%s); one-contact jobs answer them", type(exc).__name__)
        busy |= {contact: None for contact in mine}
        rest = {}
    finally:
        woken = held.release()
    for key in woken:  # a job for one of these contacts left its work to this one meanwhile
        contact = key.split(":", 2)[2]
        if key.startswith("lock:outbox:"):
            for message in pending_outbound(context.connections.db, contact, 1):
                enqueue_outbox(_queue(context), str(message["_id"]))
        elif contact not in busy:
            rest.setdefault(contact, None)
    for contact, inbound_id in rest.items():  # their second messages, photos...: as the one-contact job does
        answered += _answer_one(context, contact, inbound_id, busy)
    _hand_over(context, busy)
    return answered


def _answer_one(context: WorkerContext, contact: str, inbound_id: Any, busy: dict[str, Any]) -> int:
    """Answer a contact's pending messages here, as their own job would; should it fail, that job is queued."""
    if inbound_id is None:  # named by its lock only: its oldest pending message, if any is left
        waiting = pending_of_contacts(context.connections.db, [contact])
        if not waiting:
            return 0
        inbound_id = waiting[0]["_id"]
    try:
        return process_conversation(str(inbound_id))
    except Exception:  # noqa: BLE001 - its own job retries (RQ's backoff), in order
        busy[contact] = inbound_id
        return 0


def _answer(context: WorkerContext, contacts: list[str], held: HeldMany, left: dict[str, Any]) -> int:
    """Decide, keep and send the first message of each contact that is plainly new; the others into `left`."""
    db = context.connections.db
    known = find_contacts(db, contacts) if contacts else {}
    firsts: dict[str, dict[str, Any]] = {}
    for doc in pending_of_contacts(db, contacts) if contacts else []:
        if doc["contact"] in firsts or doc["contact"] in known:
            left.setdefault(doc["contact"], doc["_id"])  # a second message, or a known contact: in order, alone
        else:
            firsts[doc["contact"]] = doc
    plain = [doc for doc in firsts.values() if _plain(doc)]
    left |= {doc["contact"]: doc["_id"] for doc in firsts.values() if not _plain(doc)}
    plans = _decide_all(context, plain, left)
    save_new_states(db, [(*_where(doc), plan["state"], kept(plan, doc["_id"])) for doc, plan in plans])
    replies = queue_first_replies(db, [(*_where(doc), plan["replies"], str(doc["_id"])) for doc, plan in plans])
    finish_many(db, [doc["_id"] for doc, _ in plans], "done")
    for outbox_id in send_claimed(context, replies, held.fresh):
        enqueue_outbox(_queue(context), outbox_id)
    return len(plans)


def _decide_all(
    context: WorkerContext, docs: list[dict[str, Any]], left: dict[str, Any]
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Each message's plan (its effects run); a plan that saves no state is kept on its message and left."""
    recent = count_last_minute(context, [(doc["contact"], doc["_id"]) for doc in docs])
    plans = []
    for doc, count in zip(docs, recent, strict=True):
        plan = decide(context, inbound_from_doc(doc), None, count)
        if plan["state"] is None:  # rate limited, refused, erased: the one-contact job applies the kept plan
            save_plan(context.connections.db, doc["_id"], plan)
            left[doc["contact"]] = doc["_id"]
        else:
            plans.append((doc, plan))
    return plans


def _plain(doc: dict[str, Any]) -> bool:
    """A message this job answers: text alone, in a private chat, never tried too often by a one-contact job."""
    return not (doc.get("attachments") or doc.get("location") or doc.get("group") or doc.get("plan")) and (
        int(doc.get("attempts") or 0) < MAX_ATTEMPTS
    )


def _where(doc: dict[str, Any]) -> tuple[str, str, str]:
    return doc["contact"], doc["channel"], doc["chat_id"]


def _hand_over(context: WorkerContext, left: dict[str, Any]) -> None:
    """Wake a one-contact job for each contact left: it answers every pending message of theirs, in order."""
    db = context.connections.db
    unnamed = [contact for contact, inbound_id in left.items() if inbound_id is None]
    named = {doc["contact"]: doc["_id"] for doc in reversed(pending_of_contacts(db, unnamed))} if unnamed else {}
    for contact, inbound_id in left.items():
        if (inbound_id := inbound_id or named.get(contact)) is not None:
            enqueue_conversation(_queue(context), str(inbound_id), first_contact=True)


def _queue(context: WorkerContext) -> Any:
    assert context.queue is not None
    return context.queue
