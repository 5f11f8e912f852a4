"""Send a contact's queued messages, in order, recording delivery or failure per message.

Each message is claimed (`sending`) before the platform is called and marked
`sent` after. Redis keeps a witness of the call itself: "calling" just
before it, the platform's answer just after. So a later try knows which of
three things happened to a claimed message: the platform was never called
(the claim's answer was lost in a MongoDB outage: send it now), the platform
took it but the record was lost (record it, do not send it again), or a
worker died during the call (send it again once the claim is SENDING_STALE).
That last window is the only place a duplicate can happen; nothing queued is
lost.

A temporary failure keeps the order: the contact's queue waits, the message
is due again after a backoff, and a job is scheduled for then. After
MAX_SEND_ATTEMPTS tries or MAX_SEND_AGE, the message is failed (and shown on
the panel's overview) and the messages after it go on.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.channels import Channel, Outgoing, SendError, Sent
from core.redaction import without_numbers
from core.times import as_utc
from services import metrics
from services.appeals import poster_link, poster_of
from services.media_links import photo_link
from services.queue import VOLUNTEERS_QUEUE, Job, enqueue_outbox, enqueue_outbox_at, is_temporary, runs
from storage.contacts import find_contact
from storage.outbox import (
    SENDING_STALE,
    claim_outbound,
    forget_sent,
    mark_outbound,
    mark_sent_many,
    pending_outbound,
    recipient_of,
    retry_outbound,
)
from storage.photos import find_photo, photo_bytes
from storage.volunteers import is_alert, is_volunteer
from workers.context import WorkerContext, current
from workers.locks import Held, LockBusy, take_turns

# Seconds to wait after the 1st, 2nd, ... failed try; the last figure repeats.
BACKOFF_S = (5, 30, 120, 600, 1800, 3600)
MAX_SEND_ATTEMPTS = 8
MAX_SEND_AGE = timedelta(hours=24)
CALL_KEY = "homeward:outbox:call:"
CALLING = "calling"
# Longer than any message stays claimed: after it, a claim without a witness is sent again.
CALL_TTL_S = 24 * 3600
# Messages read in one look: a reply's few at once (each after the first says the sender is still at work,
# workers/locks.py `Held.at_work`, so a job woken meanwhile leaves its message to it).
BATCH = 5
log = logging.getLogger(__name__)


@runs(Job.SEND_OUTBOX)
def send_outbox(outbox_id: str) -> int:
    """Send what is due for this message's contact; return how many were sent.

    One job at a time sends to a contact; one woken meanwhile ends once that job has taken its message over.
    """
    context = current()
    contact = recipient_of(context.connections.db, outbox_id)
    if contact is None:
        return 0  # erased meanwhile
    return take_turns(
        context.connections.redis, _lock_key(contact), "outbox", lambda held: _send_due(context, contact, held)
    )


def send_now(context: WorkerContext, contact: str, outbox_id: str, last_inbound_at: datetime) -> int:
    """Send the replies a conversation job has just queued, in that job, instead of a send job; how many were sent.

    The same turns under the same lock as `send_outbox`, so the order holds whoever sends. Should another job hold
    the contact's outbox lock, or anything go wrong, a send job is queued as before and this job goes on. The
    contact wrote at `last_inbound_at`, so WhatsApp's window is known without a read.
    """
    try:
        return take_turns(
            context.connections.redis,
            _lock_key(contact),
            "outbox",
            lambda held: _send_due(context, contact, held, last_inbound_at),
            wait_s=0,
        )
    except BaseException as exc:
        if not isinstance(exc, LockBusy):
            log.warning("sending a reply in its conversation's job failed (%s); a send job will", type(exc).__name__)
        assert context.queue is not None
        enqueue_outbox(context.queue, outbox_id)  # the stored reply is the truth: a job sends it (or the reconciler)
        if isinstance(exc, Exception):
            return 0
        raise  # the job's time is up, or the worker is stopping: the send job is queued all the same


def _lock_key(contact: str) -> str:
    return f"lock:outbox:{contact}"


def _send_due(context: WorkerContext, contact: str, held: Held, last_inbound_at: datetime | None = None) -> int:
    """Send the contact's messages in order, a few read at once, until one must wait or none is left; how many.

    After a batch shorter than BATCH nothing is left that this job was told of: a message queued after the look
    wakes a job that sets the wake flag, and `take_turns` looks again for it once this returns.
    """
    db = context.connections.db
    last_inbound = _last_inbound(context, contact, last_inbound_at)
    sent = 0
    while True:
        held.looking()
        messages = pending_outbound(db, contact, BATCH)
        for index, message in enumerate(messages):
            held.check()
            if index:
                held.at_work()
            call = _call_of(context, message)
            if (due := _due_at(message, call)) > _now():
                _wake_at(context, message, due)  # order kept: the rest wait behind it
                return sent
            outcome = _record_lost_send(context, message, call) or _send(context, message, last_inbound)
            if outcome == "wait":
                return sent
            sent += outcome == "sent"
        if len(messages) < BATCH:
            return sent


def _last_inbound(context: WorkerContext, contact: str, known: datetime | None) -> Callable[[], datetime | None]:
    """When the contact last wrote, read once and only if a channel with a reply window asks (WhatsApp)."""

    @functools.cache
    def read() -> datetime | None:
        return known or (find_contact(context.connections.db, contact) or {}).get("last_inbound_at")

    return read


def _send(context: WorkerContext, message: dict[str, Any], last_inbound: Callable[[], datetime | None]) -> str:
    """Try one message: 'sent', 'failed' (given up, go on) or 'wait' (due again later, the queue waits)."""
    db = context.connections.db
    channel = context.channels.get(message["channel"])
    if channel is None:
        metrics.REPLIES_FAILED.labels(message["channel"]).inc()
        mark_outbound(db, message["_id"], "failed", error=f"channel {message['channel']} is not configured")
        return "failed"
    picture, document = _photo(context, message), None
    if is_alert(message.get("source")) and (
        (picture is None and message.get("poster")) or not is_volunteer(db, message["contact"])
    ):
        forget_sent(db, message["_id"], message["contact"])  # never sent, and nothing of it kept
        return "failed"  # nothing of an appeal taken down, nor to one who stopped; the messages after it go on
    if picture is not None and picture.startswith(b"%PDF"):  # an appeal's poster to print: kept as a file
        picture, document = None, picture
    outgoing = _outgoing(context, message, channel, last_inbound, picture, document)
    attempts = claim_outbound(db, message)
    witness, key = context.connections.redis, _call_key(message)
    witness.set(key, CALLING, ex=CALL_TTL_S)
    try:
        result = channel.send(outgoing)
    except Exception as exc:
        if is_temporary(exc) and not isinstance(exc, SendError):
            raise  # our own database or Redis is away: RQ retries the job; the claim goes stale meanwhile
        metrics.REPLIES_FAILED.labels(message["channel"]).inc()
        outcome = _failed_try(context, message, attempts, exc)
        witness.delete(key)
        return outcome
    try:
        _after_send(context, message, result)
    except Exception:
        # MongoDB went away with the reply delivered: the witness keeps the answer, the next try records it.
        witness.set(key, json.dumps(vars(result)), ex=CALL_TTL_S)
        raise
    metrics.REPLIES_SENT.labels(message["channel"]).inc()
    witness.delete(key)  # if Redis is away now, the leftover "calling" says nothing about a message marked sent
    return "sent"


def _outgoing(
    context: WorkerContext,
    message: dict[str, Any],
    channel: Channel,
    last_inbound: Callable[[], datetime | None],
    picture: bytes | None = None,
    document: bytes | None = None,
) -> Outgoing:
    return Outgoing(
        message["chat_id"],
        message["text"],
        picture,
        _window_open(last_inbound, channel.reply_window),
        media_url=_media_url(context, message) if channel.fetches_media_by_url else None,
        document=document,
        document_name=f"homeward-{message['poster']['appeal']}.pdf" if document is not None else "",
    )


def send_claimed(context: WorkerContext, messages: list[dict[str, Any]], still_ours: Callable[[], bool]) -> list[str]:
    """Send text messages stored already claimed (storage/outbox.py `queue_first_replies`), their contacts' outbox
    locks held by the caller; the ids of those left for a send job (the locks were getting old, or a channel failed).

    The same witness as `_send`, each written in one round trip for all, and the sent recorded in one write.
    """
    redis_client, db = context.connections.redis, context.connections.db
    pipeline = redis_client.pipeline(transaction=False)
    for message in messages:
        pipeline.set(_call_key(message), CALLING, ex=CALL_TTL_S)
    pipeline.execute()
    sent: list[tuple[Any, dict[str, Any]]] = []
    left: list[str] = []
    for message in messages:
        channel = context.channels.get(message["channel"])
        if channel is None or not still_ours():
            redis_client.delete(_call_key(message))  # never called: the send job sends it (or marks it failed)
            left.append(str(message["_id"]))
            continue
        try:
            # Answering a message just received: the reply window (WhatsApp's) is open since it came.
            result = channel.send(_outgoing(context, message, channel, lambda at=message["created_at"]: at))
        except Exception as exc:
            if is_temporary(exc) and not isinstance(exc, SendError):
                raise  # our own Redis is away: the claims go stale, the reconciler wakes their send jobs
            metrics.REPLIES_FAILED.labels(message["channel"]).inc()
            _failed_try(context, message, 1, exc)
            redis_client.delete(_call_key(message))
            continue
        metrics.REPLIES_SENT.labels(message["channel"]).inc()
        sent.append((message["_id"], _sent_fields(result)))
    mark_sent_many(db, sent)
    if sent:
        redis_client.delete(*[_call_key({"_id": _id}) for _id, _ in sent])
    return left


def _call_of(context: WorkerContext, message: dict[str, Any]) -> str | None:
    """What the witness says of a claimed message's platform call: None (never made), CALLING, or its answer."""
    if message["status"] != "sending":
        return None
    raw = context.connections.redis.get(_call_key(message))
    return raw.decode() if isinstance(raw, bytes) else raw


def _record_lost_send(context: WorkerContext, message: dict[str, Any], call: str | None) -> str | None:
    """The platform took this message but its record was lost (MongoDB went away): record it, send nothing."""
    if call is None or call == CALLING:
        return None
    answer = json.loads(call)
    _after_send(context, message, Sent(*answer) if isinstance(answer, list) else Sent(**answer))
    context.connections.redis.delete(_call_key(message))
    metrics.REPLIES_SENT.labels(message["channel"]).inc()
    return "sent"


def _call_key(message: dict[str, Any]) -> str:
    return f"{CALL_KEY}{message['_id']}"


def _failed_try(context: WorkerContext, message: dict[str, Any], attempts: int, exc: Exception) -> str:
    db = context.connections.db
    # A platform's own words (blocked, rate limited) help operators, but not the phone numbers they may quote;
    # any other error is named, not quoted.
    error = without_numbers(str(exc)) if isinstance(exc, SendError) else type(exc).__name__
    permanent = isinstance(exc, SendError) and exc.permanent
    paced = exc.retry_after if isinstance(exc, SendError) and exc.retry_after is not None else None
    created = as_utc(message.get("created_at") or _now())
    if permanent or (attempts >= MAX_SEND_ATTEMPTS and paced is None) or _now() - created >= MAX_SEND_AGE:
        log.warning("gave up sending a %s message after %d attempt(s): %s", message["channel"], attempts, error)
        mark_outbound(db, message["_id"], "failed", error=error)
        return "failed"
    if paced is not None:  # the platform's pace (HTTP 429): waited out as asked, and not counted as a failed try
        return _wait_for_pace(context, message, attempts, paced, error)
    when = _now() + timedelta(seconds=BACKOFF_S[min(attempts, len(BACKOFF_S)) - 1])
    log.warning("sending a %s message failed (attempt %d, next at %s): %s", message["channel"], attempts, when, error)
    retry_outbound(db, message["_id"], when, error)
    _wake_at(context, {**message, "attempts": attempts}, when)
    return "wait"


def _wait_for_pace(context: WorkerContext, message: dict[str, Any], attempts: int, wait_s: float, error: str) -> str:
    """Put the message back to wait as long as the platform asked (at least a second), its try not counted; the
    contact's later messages wait behind it, and no worker waits: a job is scheduled for then."""
    when = _now() + timedelta(seconds=max(1.0, wait_s))
    log.info("a %s message waits %.0f s: the platform asked us to slow down", message["channel"], wait_s)
    retry_outbound(context.connections.db, message["_id"], when, error, uncount=True)
    _wake_at(context, {**message, "attempts": attempts}, when)
    return "wait"


def _wake_at(context: WorkerContext, message: dict[str, Any], when: datetime) -> None:
    assert context.queue is not None
    lane = VOLUNTEERS_QUEUE if is_alert(message.get("source")) else None  # a volunteer's alert: never the chat lane
    enqueue_outbox_at(context.queue, str(message["_id"]), as_utc(when), int(message.get("attempts") or 0), lane)


def _due_at(message: dict[str, Any], call: str | None) -> datetime:
    """When a message may be tried: at its next_attempt_at, or once its claim is stale if a call may be under way."""
    if call == CALLING:
        return as_utc(message["sending_at"]) + SENDING_STALE
    # A second's slack: the scheduler's clock may run a little ahead of this one.
    return as_utc(message.get("next_attempt_at") or _now()) - timedelta(seconds=1)


def _after_send(context: WorkerContext, message: dict[str, Any], result: Sent) -> None:
    db = context.connections.db
    if message.get("erase_after_send"):
        # The goodbye to an erased contact leaves no trace, not even its sequence counter.
        forget_sent(db, message["_id"], message["contact"])
        return
    mark_outbound(db, message["_id"], "sent", **_sent_fields(result))


def _sent_fields(result: Sent) -> dict[str, Any]:
    """What is kept of a platform's answer; what an SMS was billed as stays too (storage/outbox.py sms_usage)."""
    billed = {"segments": result.segments, "cost": result.cost} if result.segments is not None else {}
    return {"platform_id": result.platform_id, "sent_as": result.sent_as, **billed}


def _photo(context: WorkerContext, message: dict[str, Any]) -> bytes | None:
    if poster := message.get("poster"):  # an appeal's poster: gone with the appeal (taken down meanwhile)
        return poster_of(context.connections.db, poster["appeal"], poster["kind"])
    if not message.get("photo_id"):
        return None
    photo = find_photo(context.connections.db, message["photo_id"])
    return photo_bytes(context.connections.db, photo) if photo else None


def _media_url(context: WorkerContext, message: dict[str, Any]) -> str | None:
    """For channels that fetch a photo by URL: a signed link, good for one photo and an hour, served by the web."""
    settings = context.settings
    if (poster := message.get("poster")) and settings.public_base_url:  # public while the appeal runs
        return poster_link(context.connections.db, settings.public_base_url, poster["appeal"], poster["kind"])
    if not message.get("photo_id") or not settings.public_base_url:
        return None
    return photo_link(settings.public_base_url, settings.secret_key, str(message["photo_id"]))


def _window_open(last_inbound: Callable[[], datetime | None], window: timedelta | None) -> bool:
    """Whether the channel lets us write freely now: always without a window, else within it of their last word."""
    if window is None:
        return True
    if (last_inbound_at := last_inbound()) is None:
        return False
    return datetime.now(UTC) - as_utc(last_inbound_at) < window


def _now() -> datetime:
    return datetime.now(UTC)
