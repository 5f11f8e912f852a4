"""`python -m workers.polling`: Telegram without a public URL (TELEGRAM_MODE=polling).

Long-polls getUpdates (bot/telegram.py fetches and parses) and feeds each
update into the same inbound path as the webhook, so everything after this
point is identical. The offset is kept in Redis; a restart may fetch an
update again, which the inbound store ignores.
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from types import FrameType
from typing import Any

import redis
from rq import Queue

from bot.telegram import TelegramChannel, parse_update
from config.process import start_process
from services.inbound import NotKept, accept
from services.queue import make_queue
from storage.connections import Connections, connect

OFFSET_KEY = "telegram:polling:offset"
log = logging.getLogger("homeward.polling")
_stop = False


def _request_stop(_signum: int, _frame: FrameType | None) -> None:
    global _stop
    _stop = True


def main() -> int:
    settings = start_process("polling")
    if settings.telegram is None or not (settings.mongodb_uri and settings.redis_url):
        print("polling: needs TELEGRAM_BOT_TOKEN, MONGODB_URI and REDIS_URL", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _request_stop)
    signal.signal(signal.SIGINT, _request_stop)
    connections = connect(settings.mongodb_uri, settings.mongodb_database, settings.redis_url, settings.data_keys())
    channel, queue = TelegramChannel(settings.telegram), make_queue(connections.redis)
    offset = int(connections.redis.get(OFFSET_KEY) or 0)
    while not _stop:
        try:
            updates = channel.get_updates(offset, timeout=10)
        except Exception as exc:  # noqa: BLE001 - a network blip: wait and poll again
            log.warning("getUpdates failed (%s); retrying in 5 s", type(exc).__name__)
            time.sleep(5)
            continue
        offset, kept_all = keep_updates(connections, queue, updates, offset)
        if not kept_all:
            time.sleep(5)
    return 0


def keep_updates(
    connections: Connections, queue: Queue, updates: list[dict[str, Any]], offset: int
) -> tuple[int, bool]:
    """Keep each update in order; return the offset to poll from next, and whether all were kept.

    An update neither MongoDB nor Redis could keep stops the batch without moving the offset past it, so the next
    getUpdates fetches it again: Telegram holds it until then.
    """
    for data in updates:
        message = parse_update(data)
        try:
            if message is not None:
                accept(connections.db, queue, message)
        except NotKept as exc:
            log.warning("could not keep an update (%s); fetching it again in 5 s", exc)
            return offset, False
        offset = int(data["update_id"]) + 1
        try:
            connections.redis.set(OFFSET_KEY, offset)  # for a restart; a refetched update is recognised and ignored
        except redis.RedisError:
            log.warning("could not save the polling offset in Redis; a restart may fetch some updates again")
    return offset, True


if __name__ == "__main__":
    sys.exit(main())
