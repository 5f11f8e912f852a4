"""The one inbound path every channel shares: store, enqueue, acknowledge.

The adapters in bot/ only translate a platform's payload into an Inbound;
keeping it and waking its conversation is this step, run by the webhooks,
the simulator and the Telegram polling loop alike.
"""

from __future__ import annotations

from rq import Queue

from core.conversation.messages import Inbound
from storage.connections import Database
from storage.inbound import store_inbound
from workers import metrics
from workers.queue import enqueue_conversation


def accept(db: Database, queue: Queue, message: Inbound) -> bool:
    """Keep the message and wake its conversation; False for a repeated delivery (nothing happens)."""
    inbound_id = store_inbound(db, message)
    if inbound_id is None:
        return False
    metrics.MESSAGES_IN.labels(message.channel).inc()
    enqueue_conversation(queue, str(inbound_id))
    return True
