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

from bot.telegram import TelegramChannel, parse_update
from config.process import start_process
from storage.connections import connect
from workers.inbound import NotKept, accept
from workers.queue import make_queue

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
        for data in updates:
            message = parse_update(data)
            try:
                if message is not None:
                    accept(connections.db, queue, message)
            except NotKept as exc:  # the offset stays: the same update is fetched again
                log.warning("could not keep an update (%s); fetching it again in 5 s", exc)
                time.sleep(5)
                break
            offset = int(data["update_id"]) + 1
            connections.redis.set(OFFSET_KEY, offset)
    return 0


if __name__ == "__main__":
    sys.exit(main())
