"""A viral appeal, measured: `homeward bench chat --rate R --seconds S [--sweep] [--workers N]`.

Starts everything as `make run` does (the supervisor, embedded MongoDB and
Redis, web, workers) in a temporary data dir with the real Telegram client
pointed at the stand-in Bot API, then sends first messages ("hi") from
distinct people through the real webhook at a steady rate (open loop: a send
is due at its time whether or not earlier ones were answered, as people do).
For each message it times the webhook's acknowledgement and the person's first
reply at the stand-in, waits for the backlog to drain (or --drain-timeout),
and prints one JSON line per rate: offered rate, sent, acknowledged, answered,
answer p50/p95/p99/max, throughput (answers per second from the first send to
the last answer), drain (seconds from the last send to the last answer) and
the webhook's ack p50/p99, the fewest answers in any 5 s while people were
still writing (`slowest_5s_per_s`: no collapse under a backlog), and how long a
family already in a conversation waited for the answer to a message it sent
half-way through (`family_answer_s`). `--sweep` runs 15, 30, 60, 120 and 240
msg/s, each on a fresh stack. `--photos F`: a share F of the people send a
complete sighting with a photo instead (benchmarks/chat_sightings.py), and the
line also has photo-to-candidate p50/p95/max. The figures mean little on a busy machine: the load average
before the run is printed with them.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.chaos.people import BOT_TOKEN, SECRET, telegram_env
from benchmarks.chat_sightings import Sightings
from benchmarks.supervised import supervised
from config import load_settings
from infra.embedded import free_port
from standins.server import BackgroundServer
from standins.telegram_api import TelegramStandIn

SWEEP = (15, 30, 60, 120, 240)
FIRST_CHAT = 900_000_000
FAMILY_CHAT = FIRST_CHAT - 1  # someone already talking to the bot (an open case's family) when the surge comes
WINDOW_S = 5.0


@dataclass
class Message:
    chat: int
    due: float  # when it was meant to be sent (time.time())
    posted: float = 0.0
    acked: float | None = None  # when the webhook answered 2xx


@dataclass
class Load:
    rate: float
    seconds: float
    messages: list[Message] = field(default_factory=list)


@contextmanager
def running_stack(
    workers: int, data_dir: Path | None, extra: dict[str, str] | None = None
) -> Iterator[tuple[int, TelegramStandIn, Path, int]]:
    """`make run` with the Telegram stand-in, in a fresh data dir: (web port, stand-in, data dir, supervisor's pid)."""
    with ExitStack() as stack:
        if data_dir is None:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="homeward-chat-load-")))
        data_dir.mkdir(parents=True, exist_ok=True)
        telegram = TelegramStandIn(BOT_TOKEN)
        telegram_url = stack.enter_context(BackgroundServer(telegram.app)).url
        port = free_port()
        env = (
            telegram_env(telegram_url)
            | {
                "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
                "HOMEWARD_WORKERS": str(workers),
            }
            | (extra or {})
        )
        with supervised(data_dir, port, env) as supervisor:
            yield port, telegram, data_dir, supervisor.pid


def offer(port: int, load: Load, senders: int) -> None:
    """Send `rate` first messages a second for `seconds`, each from a new person, each at its due time."""
    count = round(load.rate * load.seconds)
    start = time.time() + 0.5
    load.messages = [Message(FIRST_CHAT + n, start + n / load.rate) for n in range(count)]
    local = threading.local()

    def send(message: Message) -> None:
        delay = message.due - time.time()
        if delay > 0:
            time.sleep(delay)
        if not hasattr(local, "connection"):
            local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        message.posted = time.time()
        if _post(local.connection, _update(message.chat)):
            message.acked = time.time()
        else:
            local.connection.close()
            del local.connection

    with ThreadPoolExecutor(max_workers=senders) as pool:
        list(pool.map(send, load.messages))


def _update(chat: int, text: str = "hi", update_id: int | None = None) -> bytes:
    message = {
        "message_id": 1,
        "date": int(time.time()),
        "chat": {"id": chat, "type": "private"},
        "from": {"id": chat, "is_bot": False, "first_name": "Viral"},
        "text": text,
    }
    return json.dumps({"update_id": update_id or chat, "message": message}).encode()


class Family:
    """A family already in a conversation: answered once before the surge, then writes once in its middle."""

    def __init__(self, port: int, telegram: TelegramStandIn) -> None:
        self.port, self.telegram, self.posted = port, telegram, 0.0
        self._say("hi", 1)  # update ids below the surge's (each person's is their chat id)
        deadline = time.monotonic() + 60
        while not telegram.by_chat.get(FAMILY_CHAT) and time.monotonic() < deadline:
            time.sleep(0.05)

    def write_at(self, when: float) -> threading.Thread:
        """Send "help" at `when` (time.time()), from a thread of its own."""
        thread = threading.Thread(target=lambda: (time.sleep(max(0.0, when - time.time())), self._write()))
        thread.start()
        return thread

    def _write(self) -> None:
        self.posted = time.time()
        self._say("help", 2)

    def _say(self, text: str, update_id: int) -> None:
        _post(http.client.HTTPConnection("127.0.0.1", self.port, timeout=30), _update(FAMILY_CHAT, text, update_id))

    def waited(self) -> float | None:
        """Seconds from its message to its answer; None if it was never answered."""
        replies = [reply["at"] for reply in self.telegram.by_chat.get(FAMILY_CHAT, []) if reply["at"] >= self.posted]
        return round(replies[0] - self.posted, 3) if self.posted and replies else None


def _post(connection: http.client.HTTPConnection, body: bytes) -> bool:
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
    try:
        connection.request("POST", "/webhooks/telegram", body, headers)
        answer = connection.getresponse()
        answer.read()
        return 200 <= answer.status < 300
    except (OSError, http.client.HTTPException):
        return False


def wait_for_answers(telegram: TelegramStandIn, load: Load, timeout: float) -> None:
    """Until every acknowledged message's person has a reply, or `timeout` seconds after the last send."""
    deadline = time.monotonic() + timeout
    wanted = {m.chat for m in load.messages if m.acked is not None}
    while time.monotonic() < deadline and not wanted <= telegram.by_chat.keys():
        time.sleep(0.5)


def figures(telegram: TelegramStandIn, load: Load) -> dict[str, Any]:
    """The JSON line: what was offered, what came back, and how long people waited."""
    first_reply = {chat: replies[0]["at"] for chat, replies in list(telegram.by_chat.items()) if replies}
    waits = sorted(first_reply[m.chat] - m.posted for m in load.messages if m.chat in first_reply)
    acks = sorted(m.acked - m.posted for m in load.messages if m.acked is not None)
    sent_from, sent_to = load.messages[0].posted, max(m.posted for m in load.messages)
    last_answer = max((first_reply[m.chat] for m in load.messages if m.chat in first_reply), default=None)
    windows = [
        sum(start <= first_reply.get(m.chat, -1.0) < start + WINDOW_S for m in load.messages) / WINDOW_S
        for start in _window_starts(sent_from, sent_to)
    ]
    return {
        "offered_per_s": load.rate,
        "seconds": load.seconds,
        "sent": len(load.messages),
        "sent_per_s": round(len(load.messages) / max(sent_to - sent_from, 1e-9), 1),
        "acknowledged": len(acks),
        "answered": len(waits),
        "answer_p50_s": _quantile(waits, 0.50),
        "answer_p95_s": _quantile(waits, 0.95),
        "answer_p99_s": _quantile(waits, 0.99),
        "answer_max_s": round(waits[-1], 3) if waits else None,
        "throughput_per_s": round(len(waits) / (last_answer - sent_from), 1) if last_answer else 0.0,
        "drain_s": round(last_answer - sent_to, 2) if last_answer else None,
        "ack_p50_s": _quantile(acks, 0.50),
        "ack_p99_s": _quantile(acks, 0.99),
        "slowest_5s_per_s": min(windows) if windows else None,
        "per_5s": [round(window, 1) for window in windows],
    }


def _window_starts(sent_from: float, sent_to: float) -> list[float]:
    """The 5 s windows after the first second (the line's start) that end while people are still writing."""
    starts, start = [], sent_from + 1.0
    while start + WINDOW_S <= sent_to:
        starts.append(start)
        start += WINDOW_S
    return starts


def _quantile(values: list[float], q: float) -> float | None:
    return round(values[min(len(values) - 1, int(len(values) * q))], 3) if values else None


def measure(rate: float, args: argparse.Namespace) -> dict[str, Any]:
    """One rate on a fresh stack: nothing left over from a previous rate slows this one."""
    extra = {"HOMEWARD_SIMULATOR": "open"} if args.photos else {}
    with running_stack(args.workers, args.data_dir, extra) as (port, telegram, data_dir, _):
        sightings = None
        if args.photos:  # a share of the people send a sighting with a photo (through the simulator)
            count = round(rate * args.seconds * args.photos)
            sightings = Sightings(port, data_dir, load_settings().faces_dir, count)
            sightings.start(time.time() + 0.5, rate * args.photos)
        load, family = Load(rate * (1 - args.photos), args.seconds), Family(port, telegram)
        writing = family.write_at(time.time() + 0.5 + args.seconds / 2)
        offer(port, load, args.senders)
        writing.join()
        wait_for_answers(telegram, load, args.drain_timeout)
        found = figures(telegram, load) | {"family_answer_s": family.waited()}
        if sightings is not None:
            waits = sightings.waits(args.drain_timeout)
            found |= {
                "sightings": len(sightings.posted),
                "sightings_with_candidate": len(waits),
                "photo_to_candidate_p50_s": _quantile(waits, 0.50),
                "photo_to_candidate_p95_s": _quantile(waits, 0.95),
                "photo_to_candidate_max_s": round(waits[-1], 3) if waits else None,
            }
        return found | {"workers": args.workers, "load_before": args.load_before}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--rate", type=float, default=30, help="first messages per second (default 30)")
    parser.add_argument("--seconds", type=float, default=30, help="how long to send (default 30)")
    parser.add_argument("--sweep", action="store_true", help=f"run each of {', '.join(map(str, SWEEP))} msg/s")
    parser.add_argument(
        "--workers", type=int, default=4, help="HOMEWARD_WORKERS for the stack (default 4, as make run)"
    )
    parser.add_argument("--senders", type=int, default=64, help="threads posting webhooks (default 64)")
    parser.add_argument(
        "--photos", type=float, default=0.0, help="share of people who send a sighting with a photo (e.g. 0.2)"
    )
    parser.add_argument("--drain-timeout", type=float, default=300, help="seconds to wait for the backlog")
    parser.add_argument("--data-dir", type=Path, help="keep the data dir (run.log, the database) here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the stand-in's request lines would bury the figures
    args.load_before = round(os.getloadavg()[0], 2)
    for rate in SWEEP if args.sweep else (args.rate,):
        print(json.dumps(measure(rate, args)), flush=True)
        args.load_before = round(os.getloadavg()[0], 2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
