"""The one inbound path every channel shares: store, enqueue, acknowledge."""
from __future__ import annotations

from pymongo.database import Database
from rq import Queue

from core.chat import Inbound
from storage.conversations import store_inbound
from workers.queue import enqueue_conversation


def accept(db: Database, queue: Queue, message: Inbound) -> bool:
    """Keep the message and wake its conversation; False for a repeated delivery (nothing happens)."""
    if not store_inbound(db, message):
        return False
    enqueue_conversation(queue, message.contact)
    return True
