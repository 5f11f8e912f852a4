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
import itertools
import json
import logging
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymongo
from twilio.request_validator import RequestValidator

from config import load_settings
from infra.embedded import free_port
from standins.server import BackgroundServer
from standins.telegram_api import TelegramStandIn
from standins.twilio_api import TwilioStandIn

ROOT = Path(__file__).resolve().parent.parent
BOT_TOKEN, SECRET = "424242:chaos-benchmark-token", "chaos-webhook-secret-0123"
SID, AUTH, FROM = "AC" + "7" * 32, "chaos-twilio-auth-token", "+15550001111"
PEOPLE = ("Aaron_Eckhart", "Colin_Powell", "Tony_Blair", "Hugo_Chavez", "Ariel_Sharon", "Gerhard_Schroeder")
FAULTS = {"worker": "worker-1", "redis": "redis", "mongodb": "mongodb"}
TELEGRAM_BACKOFF_S = (1, 2, 4, 8, 16)  # then every 16 s, as long as the contact still waits


@dataclass(frozen=True)
class Step:
    send: str | None  # the text; None sends the contact's photo
    expect: str  # a piece of the answer that means the bot understood and moved on


REPORT = (
    Step("hi", "Do you agree?"),
    Step("yes", "What would you like to do?"),
    Step("1", "What is their full name?"),
    Step("{name}", "How old is"),
    Step("34", "gender?"),
    Step("skip", "last seen? Share a location"),
    Step("Central Station, platform 3", "When was"),
    Step("yesterday 5pm", "Describe"),
    Step("blue coat, short dark hair", "clear photos"),
    Step(None, "Photo 1 received"),
    Step("done", "Please check the report"),
    Step("yes", "Its reference is HW-"),
)
SIGHTING = (
    Step("hi", "Do you agree?"),
    Step("yes", "What would you like to do?"),
    Step(None, "Where did you see this person?"),
    Step("Bus stop on Main Street", "When did you see them?"),
    Step("2 hours ago", "Anything else that helps"),
    Step("walking towards the river", "Its reference is SG-"),
)
REFERENCE = re.compile(r"reference is ((?:HW|SG)-[0-9A-Z]{4})")


@dataclass
class Sent:
    expect: str
    replies_before: int  # how many messages the chat had before this one was sent
    at: float
    accepted: bool = True  # False: the webhook never took it (a Twilio refusal, or Telegram gave up)
    answered_at: float | None = None
    off_script: bool = False  # answered, but not with what the script expects


@dataclass
class Contact:
    platform: str  # "telegram" or "whatsapp"
    address: int | str  # Telegram chat id or WhatsApp number
    kind: str  # "report" or "sighting"
    person: int
    sent: list[Sent] = field(default_factory=list)
    reference: str | None = None
    finished: bool = False

    @property
    def script(self) -> tuple[Step, ...]:
        return REPORT if self.kind == "report" else SIGHTING


class World:
    """The stand-ins, the running product and the bookkeeping every contact thread shares."""

    def __init__(self, port: int, telegram: TelegramStandIn, twilio: TwilioStandIn, args: argparse.Namespace) -> None:
        self.port, self.telegram, self.twilio, self.args = port, telegram, twilio, args
        self.base = f"http://127.0.0.1:{port}"
        self.validator = RequestValidator(AUTH)
        self.ids = itertools.count(1_000_000)
        self.messages_sent = 0
        self.lock = threading.Lock()
        self.telegram_redeliveries = 0
        self.twilio_refused = 0
        self.contacts: list[Contact] = []

    def replies(self, contact: Contact) -> list[dict[str, Any]]:
        if contact.platform == "telegram":
            return self.telegram.by_chat.get(int(contact.address), [])
        return self.twilio.by_to.get(f"whatsapp:{contact.address}", [])

    def post(self, contact: Contact, step: Step) -> bool:
        """Deliver one message as the platform would; False when it never reached Homeward."""
        with self.lock:
            self.messages_sent += 1
        if contact.platform == "telegram":
            return self._telegram(contact, step)
        return self._twilio(contact, step)

    def _telegram(self, contact: Contact, step: Step) -> bool:
        message: dict[str, Any] = {
            "message_id": next(self.ids),
            "date": int(time.time()),
            "chat": {"id": contact.address, "type": "private"},
            "from": {"id": contact.address, "is_bot": False, "first_name": "Chaos"},
        }
        if step.send is None:
            file_id = f"face-{contact.person}"
            message["photo"] = [{"file_id": file_id, "file_unique_id": file_id, "width": 250, "height": 250}]
        else:
            message["text"] = step.send.format(name=_name(contact))
        body = json.dumps({"update_id": next(self.ids), "message": message}).encode()
        headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
        give_up = time.monotonic() + self.args.reply_timeout
        for attempt in itertools.count():
            if _post(f"{self.base}/webhooks/telegram", body, headers):
                return True
            if time.monotonic() >= give_up:
                return False
            with self.lock:
                self.telegram_redeliveries += 1
            time.sleep(TELEGRAM_BACKOFF_S[min(attempt, len(TELEGRAM_BACKOFF_S) - 1)])
        return False  # not reached: count() never ends

    def _twilio(self, contact: Contact, step: Step) -> bool:
        form = {
            "From": f"whatsapp:{contact.address}",
            "To": f"whatsapp:{FROM}",
            "Body": "" if step.send is None else step.send.format(name=_name(contact)),
            "MessageSid": f"SM{next(self.ids):032d}",
            "NumMedia": "0",
            "ProfileName": "Chaos",
            "WaId": str(contact.address).lstrip("+"),
        }
        if step.send is None:
            url = f"{self.twilio.url}/media/ME{contact.person}"  # type: ignore[attr-defined]
            form |= {"NumMedia": "1", "MediaUrl0": url, "MediaContentType0": "image/jpeg"}
        url = f"{self.base}/webhooks/twilio"
        signature = self.validator.compute_signature(url, form)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
        if _post(url, urllib.parse.urlencode(form).encode(), headers):
            return True
        with self.lock:
            self.twilio_refused += 1
        return False


def _name(contact: Contact) -> str:
    return PEOPLE[contact.person].replace("_", " ")


def _post(url: str, body: bytes, headers: dict[str, str]) -> bool:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=15) as answer:
            return 200 <= answer.status < 300
    except (urllib.error.URLError, OSError):
        return False  # an error status, a refused connection or a timeout: the platform sees a failure


def converse(world: World, contact: Contact) -> None:
    """The contact's script, one message at a time; it stops at the first message left unanswered."""
    pace = random.Random(str(contact.address))
    for step in contact.script:
        time.sleep(pace.uniform(0.1, 0.6))  # a person reads and types
        before = len(world.replies(contact))
        sent = Sent(step.expect, before, time.time())
        contact.sent.append(sent)
        sent.accepted = world.post(contact, step)
        if not sent.accepted or not _await_answer(world, contact, sent, world.args.reply_timeout):
            return
    contact.finished = True


def _await_answer(world: World, contact: Contact, sent: Sent, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _answer(world, contact, sent):
            return True
        time.sleep(0.2)
    return False


def _answer(world: World, contact: Contact, sent: Sent) -> bool:
    for reply in world.replies(contact)[sent.replies_before :]:
        text = reply.get("text") or reply.get("caption") or reply.get("Body") or ""
        if sent.expect in text:
            sent.answered_at, sent.off_script = reply["at"], False
            if found := REFERENCE.search(text):
                contact.reference = found.group(1)
            return True
    sent.off_script = len(world.replies(contact)) > sent.replies_before
    return False


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
        pid = _supervised(self.run_dir)[child]["pid"]
        os.kill(pid, signal.SIGKILL)
        killed_at = time.time()
        healthy = _wait_healthy(self.world.port, child, pid, timeout=120)
        return {"fault": kind, "pid": pid, "at": killed_at, "healthz_s": healthy and round(healthy - killed_at, 2)}


def _supervised(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "supervisor.json").read_text())["processes"]


def _wait_healthy(port: int, child: str, old_pid: int, timeout: float) -> float | None:
    """The time /healthz first answered 200, ok, with a new running `child`; None if it did not within timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                state = json.load(answer)
            process = state.get("processes", {}).get(child, {})
            if state.get("ok") and process.get("pid") != old_pid and process.get("up"):
                return time.time()
        except (urllib.error.URLError, OSError, ValueError):
            pass  # 503 while a part is down
        time.sleep(0.1)
    return None


def start_supervisor(data_dir: Path, port: int, extra: dict[str, str]) -> subprocess.Popen[bytes]:
    """`make run`'s supervisor; its messages go to data_dir/run.log."""
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "REDIS_URL", "HOMEWARD_ADMIN_PASSWORD")}
    env |= {"HOMEWARD_DATA_DIR": str(data_dir), "PORT": str(port), "HOMEWARD_LOG_LEVEL": "WARNING"} | extra
    log = open(data_dir / "run.log", "wb")  # noqa: SIM115 - the supervisor keeps writing to it
    command = [sys.executable, "-m", "infra.supervisor"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_for_banner(log: Path, supervisor: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "Stop with Ctrl-C" in log.read_text(errors="replace"):
            return
        if supervisor.poll() is not None:
            break
        time.sleep(0.2)
    raise SystemExit(f"make run did not come up; its messages:\n{log.read_text(errors='replace')[-3000:]}")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--contacts", type=int, default=200, help="people talking at once (default 200)")
    parser.add_argument("--threads", type=int, default=64, help="conversations in flight at once (default 64)")
    parser.add_argument("--faults", default="worker,redis,mongodb", help="what to kill, in order (default all three)")
    parser.add_argument("--no-faults", action="store_true", help="a baseline: kill nothing")
    parser.add_argument("--reply-timeout", type=float, default=120, help="seconds a person waits for an answer")
    parser.add_argument("--grace", type=float, default=60, help="seconds to wait for late answers at the end")
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
        port = free_port()
        env = {
            "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "TELEGRAM_MODE": "webhook",
            "TELEGRAM_API_BASE_URL": telegram_url,
            "TWILIO_ACCOUNT_SID": SID,
            "TWILIO_AUTH_TOKEN": AUTH,
            "TWILIO_WHATSAPP_FROM": FROM,
            "TWILIO_API_BASE_URL": twilio_url,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",  # Twilio signs the URL it posts to
            "HOMEWARD_CASE_PHOTO_JITTERS": "1",
            "HOMEWARD_CHAT_RATE_PER_MINUTE": "1000",
            "HOMEWARD_FACES_DIR": str(faces),
        }
        supervisor = start_supervisor(data_dir, port, env)
        try:
            wait_for_banner(data_dir / "run.log", supervisor)
            world = World(port, telegram, twilio, args)
            figures = run(world, data_dir, args)
            figures |= found_in_mongodb(data_dir, env, world.contacts)
        finally:
            supervisor.send_signal(signal.SIGTERM)
            try:
                supervisor.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(supervisor.pid, signal.SIGKILL)
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
    return [s for c in contacts for s in c.sent if s.accepted and s.answered_at is None and not _answer(world, c, s)]


def tally(
    world: World, contacts: list[Contact], faults: list[dict[str, Any]], started: float, talked: float
) -> dict[str, Any]:
    sent = [s for c in contacts for s in c.sent]
    every_reply = sorted(r["at"] for r in world.telegram.sent + world.twilio.sent if "at" in r)
    recoveries = []
    for fault in faults:
        after = [at for at in every_reply if at > fault["at"]]
        recoveries.append(
            {
                "fault": fault["fault"],
                "next_reply_s": round(after[0] - fault["at"], 2) if after else None,
                "healthz_s": fault["healthz_s"],
                "at_s": round(fault["at"] - started, 1),
            }
        )
    return {
        "contacts": len(contacts),
        "finished": sum(c.finished for c in contacts),
        "messages_sent": len(sent),
        "answered": sum(s.answered_at is not None for s in sent),
        "unanswered": sum(s.answered_at is None and not s.off_script for s in sent),
        "twilio_refused": world.twilio_refused,
        "telegram_redeliveries": world.telegram_redeliveries,
        "off_script": sum(s.answered_at is None and s.off_script for s in sent),
        "duplicated_replies": duplicates(world),
        "unanswered_detail": [
            f"{c.platform} contact {n}, step {i + 1} ({_why(s)}, sent at {s.at - started:.1f} s): expected '{s.expect}'"
            for n, c in enumerate(contacts)
            for i, s in enumerate(c.sent)
            if s.answered_at is None
        ],
        "confirmed": {c.address: c.reference for c in contacts if c.reference},
        "faults": recoveries,
        "conversation_s": round(talked - started, 1),
        "duration_s": round(time.time() - started, 1),
    }


def _why(sent: Sent) -> str:
    if not sent.accepted:
        return "the webhook refused it"
    return "answered off-script" if sent.off_script else "no answer"


def duplicates(world: World) -> int:
    """Replies identical to the one just before them in the same chat: the script never expects the same twice."""
    count = 0
    for chat in list(world.telegram.by_chat.values()) + list(world.twilio.by_to.values()):
        texts = [r.get("text") or r.get("caption") or r.get("Body") or "" for r in chat]
        count += sum(1 for a, b in itertools.pairwise(texts) if a == b)
    return count


def found_in_mongodb(data_dir: Path, env: dict[str, str], contacts: list[Contact]) -> dict[str, Any]:
    """Each confirmed reference checked in the database: the case or sighting, and its photos."""
    database = load_settings(os.environ | env | {"HOMEWARD_DATA_DIR": str(data_dir)}).mongodb_database
    url = json.loads((data_dir / "run" / "embedded.json").read_text())["mongodb"]["url"]
    client: pymongo.MongoClient = pymongo.MongoClient(url, serverSelectionTimeoutMS=10_000)
    try:
        db = client[database]
        confirmed = [c.reference for c in contacts if c.reference]
        missing, without_photos, unanalysed = [], [], 0
        for reference in confirmed:
            kind = "case" if reference.startswith("HW-") else "sighting"
            collection = db.cases if kind == "case" else db.sightings
            if collection.find_one({"reference": reference}, {"_id": 1}) is None:
                missing.append(reference)
                continue
            photos = list(db.photos.find({"owner": {"kind": kind, "id": reference}}, {"status": 1}))
            if not photos:
                without_photos.append(reference)
            unanalysed += sum(p.get("status") == "pending" for p in photos)
    finally:
        client.close()
    return {
        "reports_confirmed": sum(r.startswith("HW-") for r in confirmed),
        "sightings_confirmed": sum(r.startswith("SG-") for r in confirmed),
        "missing_in_mongodb": missing,
        "missing_photos": without_photos,
        "photos_still_pending": unanalysed,
        "lost_reports": len(missing) + len(without_photos),
    }


def report(figures: dict[str, Any], log: Path | None) -> None:
    print(f"contacts                 {figures['contacts']} ({figures['finished']} finished their script)")
    print(f"messages sent            {figures['messages_sent']}")
    print(f"  answered               {figures['answered']}")
    print(
        f"  unanswered             {figures['unanswered']} (of them Twilio posts refused: {figures['twilio_refused']})"
    )
    print(f"  answered off-script    {figures['off_script']}")
    print(f"  Telegram redeliveries  {figures['telegram_redeliveries']}")
    print(f"duplicated replies       {figures['duplicated_replies']}")
    print(f"reports confirmed        {figures['reports_confirmed']} cases, {figures['sightings_confirmed']} sightings")
    print(f"  lost                   {figures['lost_reports']}")
    print(f"    not in MongoDB         {', '.join(figures['missing_in_mongodb']) or '-'}")
    print(f"    without their photos   {', '.join(figures['missing_photos']) or '-'}")
    print(f"  photos still pending   {figures['photos_still_pending']}")
    for line in figures["unanswered_detail"]:
        print(f"    {line}")
    for fault in figures["faults"]:
        print(
            f"fault {fault['fault']:8} at {fault['at_s']:6.1f} s: next reply after {fault['next_reply_s']} s, "
            f"/healthz 200 after {fault['healthz_s']} s"
        )
    if figures["faults_not_injected"]:
        skipped = ", ".join(figures["faults_not_injected"])
        print(f"faults not injected      {skipped} (the conversations stopped before reaching them)")
    print(f"duration                 {figures['duration_s']} s (conversations {figures['conversation_s']} s)")
    if log is not None and log.is_file():
        errors = [line for line in log.read_text(errors="replace").splitlines() if "ERROR" in line or "Error" in line]
        print(f"errors in the supervisor's log ({len(errors)} lines; the last 20):")
        print("\n".join(f"  {line[:300]}" for line in errors[-20:]))
    summary = {k: v for k, v in figures.items() if k != "confirmed"}
    print(json.dumps(summary))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
