"""Nothing lost, nothing stuck: `python -m benchmarks.chaos [--contacts N] [--faults worker,redis,mongodb]`.

Starts everything as `make run` does (the supervisor, embedded MongoDB and
Redis, web, one worker) in a temporary data dir, with the real Telegram and
Twilio clients pointed at the stand-ins (standins/). N contacts, half on
Telegram and half on WhatsApp, each hold a conversation as a person would:
send a message, wait for the bot's answer, send the next. Three in four report
a missing person (consent, name, age, gender, place, time, description, a face
photo, done, yes: a reference HW-…); one in four sends a sighting (photo,
place, time, note: SG-…). While they talk, the harness SIGKILLs the worker,
then the Redis server, then the MongoDB server, as the conversations reach
1/4, 2/4 and 3/4 of their messages, and the supervisor restarts each.

The harness behaves like the platforms: a Telegram update answered with an
error (or no answer) is delivered again, same update_id, with backoff, until
it gets a 2xx; Twilio does not retry, so a refused WhatsApp message is lost to
its sender and counted. A contact whose message gets no answer within
--reply-timeout gives up (stuck); late answers still count if they arrive
within --grace seconds after the last conversation ends.

It prints what was sent, answered, unanswered, answered off-script,
duplicated replies (the same text twice in a row to one chat, where the script
expects one), reports confirmed to the sender vs found in MongoDB with their
photos, and for each fault the seconds until the next reply reached anyone and
until /healthz was 200 again; then one line of JSON. Exit status 1 when a
message went unanswered or off-script, or a confirmed report is missing.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from benchmarks.chaos.figures import database, found_in_mongodb, report, tally
from benchmarks.chaos.hostile import CLIPS_EACH, HOSTILE_CONTACTS, Watch, make_clips
from benchmarks.chaos.people import AUTH, BOT_TOKEN, FROM, PEOPLE, SID, Contact, Sent, telegram_env
from benchmarks.chaos.world import World, answered, converse
from benchmarks.supervised import ROOT, kill, supervised, wait_healed
from infra.embedded import free_port
from standins.server import BackgroundServer
from standins.telegram_api import TelegramStandIn
from standins.twilio_api import TwilioStandIn

FAULTS = {"worker": "worker-1", "redis": "redis", "mongodb": "mongodb"}


class Faults:
    """Kills the chosen children at 1/(n+1), 2/(n+1), … of the messages the scripts will send."""

    def __init__(self, world: World, run_dir: Path, names: list[str], total_messages: int) -> None:
        self.world, self.run_dir, self.names, self.total = world, run_dir, names, total_messages
        self.done: list[dict[str, Any]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        for number, name in enumerate(self.names, 1):
            due = self.total * number / (len(self.names) + 1)
            while self.world.messages_sent < due and not self.stop.is_set():
                time.sleep(0.2)
            if self.stop.is_set():
                return
            self.done.append(self._kill(name))

    def _kill(self, kind: str) -> dict[str, Any]:
        child = FAULTS[kind]
        pid, killed_at = kill(self.run_dir, child)
        healthy = wait_healed(self.world.port, child, pid, timeout=120)
        return {"fault": kind, "pid": pid, "at": killed_at, "healthz_s": healthy and round(healthy - killed_at, 2)}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(sys.modules["benchmarks.chaos"].__doc__ or ""), formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=200, help="people talking at once (default 200)")
    parser.add_argument("--threads", type=int, default=64, help="conversations in flight at once (default 64)")
    parser.add_argument("--faults", default="worker,redis,mongodb", help="what to kill, in order (default all three)")
    parser.add_argument("--no-faults", action="store_true", help="a baseline: kill nothing")
    parser.add_argument("--reply-timeout", type=float, default=120, help="seconds a person waits for an answer")
    parser.add_argument("--grace", type=float, default=60, help="seconds to wait for late answers at the end")
    parser.add_argument(
        "--hostile", type=int, default=HOSTILE_CONTACTS, help="contacts sending three long clips each (default 5)"
    )
    parser.add_argument("--clip-wait", type=float, default=600, help="seconds to wait for their clips' analysis")
    parser.add_argument("--data-dir", type=Path, help="keep the data dir (run.log, the database) here")
    parser.add_argument(
        "--faces-dir", type=Path, help="the shared faces (default: HOMEWARD_FACES_DIR or ../shared/faces)"
    )
    args = parser.parse_args(argv)
    names = [] if args.no_faults else [n.strip() for n in args.faults.split(",") if n.strip()]
    if unknown := [n for n in names if n not in FAULTS]:
        parser.error(f"unknown fault {', '.join(unknown)}; choose from {', '.join(FAULTS)}")
    args.fault_names = names
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the stand-ins' request lines would bury the figures
    faces = args.faces_dir or Path(os.environ.get("HOMEWARD_FACES_DIR", ROOT.parent / "shared" / "faces"))
    photos = [faces / "lfw" / person / f"{person}_0001.jpg" for person in PEOPLE]
    if missing := [str(p) for p in photos if not p.is_file()]:
        print(f"missing face photos {', '.join(missing)}; set HOMEWARD_FACES_DIR or --faces-dir", file=sys.stderr)
        return 2
    with ExitStack() as stack:
        if args.data_dir:
            args.data_dir.mkdir(parents=True, exist_ok=True)
            data_dir = args.data_dir
        else:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="homeward-chaos-")))
        telegram, twilio = TelegramStandIn(BOT_TOKEN), TwilioStandIn(SID, AUTH)
        telegram_url = stack.enter_context(BackgroundServer(telegram.app)).url
        twilio.url = twilio_url = stack.enter_context(BackgroundServer(twilio.app)).url  # type: ignore[attr-defined]
        for number, photo in enumerate(photos):
            telegram.add_file(f"face-{number}", photo.read_bytes())
            twilio.media[f"ME{number}"] = (photo.read_bytes(), "image/jpeg")
        clips = make_clips(data_dir, faces, args.hostile * CLIPS_EACH)
        for number, clip in enumerate(clips):
            telegram.add_file(f"clip-{number // CLIPS_EACH}-{number % CLIPS_EACH}", clip)
        port = free_port()
        env = telegram_env(telegram_url) | {
            "TWILIO_ACCOUNT_SID": SID,
            "TWILIO_AUTH_TOKEN": AUTH,
            "TWILIO_WHATSAPP_FROM": FROM,
            "TWILIO_API_BASE_URL": twilio_url,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",  # Twilio signs the URL it posts to
            "HOMEWARD_CASE_PHOTO_JITTERS": "1",
            "HOMEWARD_CHAT_RATE_PER_MINUTE": "1000",
            "HOMEWARD_FACES_DIR": str(faces),
            # Two workers, one of them chat-only: the fewest that keep chats apart from clips, so the hardest case.
            "HOMEWARD_WORKERS": "2",
        }
        with supervised(data_dir, port, env):
            world = World(port, telegram, twilio, args)
            with Watch(data_dir / "run", database(data_dir, env), clips) as watch:
                figures = run(world, data_dir, args)
                figures["clips_waited_s"] = watch.wait_for_clips(args.clip_wait if clips else 0)
                figures |= watch.figures()
            figures |= found_in_mongodb(data_dir, env, world.contacts)
        failed = figures["unanswered"] + figures["off_script"] + figures["lost_reports"]
        report(figures, data_dir / "run.log" if failed else None)
    return 1 if failed else 0


def run(world: World, data_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    contacts = [
        Contact(
            "telegram" if n % 2 == 0 else "whatsapp",
            700_000 + n if n % 2 == 0 else f"+4477009{n:05d}",
            "sighting" if n % 4 == 3 else "report",
            n % len(PEOPLE),
        )
        for n in range(args.contacts)
    ]
    hostile = [Contact("telegram", 900_000 + n, "hostile", n) for n in range(args.hostile)]  # clips: hostile.py
    contacts = hostile + contacts  # their clips start first, so every other chat is answered beside them
    world.contacts = contacts
    total = sum(len(c.script) for c in contacts)
    faults = Faults(world, data_dir / "run", args.fault_names, total)
    started = time.time()
    faults.thread.start()
    with ThreadPoolExecutor(max_workers=max(1, min(args.threads, len(contacts)))) as pool:
        list(pool.map(lambda contact: converse(world, contact), contacts))
    talked = time.time()
    faults.stop.set()
    faults.thread.join(130)
    grace_end = time.monotonic() + args.grace
    while time.monotonic() < grace_end and _waiting(world, contacts):
        time.sleep(0.5)
    figures = tally(world, contacts, faults.done, started, talked)
    return figures | {"faults_not_injected": args.fault_names[len(faults.done) :]}


def _waiting(world: World, contacts: list[Contact]) -> list[Sent]:
    """Accepted messages still without their expected answer (checked again: late answers count)."""
    return [s for c in contacts for s in c.sent if s.accepted and s.answered_at is None and not answered(world, c, s)]
