"""What the chaos run saw: answered, unanswered, duplicated, and each confirmed report looked up in MongoDB."""

from __future__ import annotations

import itertools
import json
import os
import time
from pathlib import Path
from typing import Any

import pymongo

from benchmarks.chaos.hostile import TARGET_PEAK_MB, TARGET_WAIT_P95_S
from benchmarks.chaos.people import Contact, Sent
from benchmarks.chaos.world import World
from config import load_settings


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
        **_waits(sent, world.args.reply_timeout),
        "hostile_contacts": sum(c.kind == "hostile" for c in contacts),
        "hostile_wait_p95_s": _waits([s for c in contacts if c.kind == "hostile" for s in c.sent], 0)["wait_p95_s"],
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


def _waits(sent: list[Sent], patience: float) -> dict[str, Any]:
    """How long people waited for answers, and how many answers came only after the person had given up."""
    waits = sorted(s.answered_at - s.at for s in sent if s.answered_at is not None)
    if not waits:
        return {"wait_p50_s": None, "wait_p95_s": None, "wait_max_s": None, "answered_after_giving_up": 0}
    return {
        "wait_p50_s": round(waits[len(waits) // 2], 2),
        "wait_p95_s": round(waits[min(len(waits) - 1, int(len(waits) * 0.95))], 2),
        "wait_max_s": round(waits[-1], 2),
        "answered_after_giving_up": sum(wait > patience for wait in waits),
    }


def _why(sent: Sent) -> str:
    if not sent.accepted:
        return "the webhook refused it"
    return "answered off-script" if sent.off_script else "no answer"


def _hostile(figures: dict[str, Any]) -> None:
    """Issue 23's targets while hostile contacts send long clips: each figure beside its target."""

    def verdict(met: bool) -> str:
        return "met" if met else "MISSED"

    every_chat = figures["unanswered"] + figures["off_script"] == 0
    p95, clips, peaks = figures["wait_p95_s"], figures["most_workers_on_clips_at_once"], figures["worker_peak_rss_mb"]
    print(f"hostile contacts         {figures['hostile_contacts']}, three 30 s 1280x720 clips each (2 fps)")
    print(f"  their clips            {figures['hostile_clips']} after waiting {figures['clips_waited_s']} s")
    print(f"  their answers' p95     {figures['hostile_wait_p95_s']} s")
    print(
        f"  every chat answered    {figures['answered']} answered, {figures['unanswered']} not: {verdict(every_chat)}"
    )
    quick = p95 is not None and p95 <= TARGET_WAIT_P95_S
    print(f"  chat answer p95        {p95} s (target <= {TARGET_WAIT_P95_S} s): {verdict(quick)}")
    print(
        f"  workers on clips at once  at most {clips} (on any photo job: {figures['most_workers_on_photos_at_once']}; "
        f"{figures['watch_samples']} samples; target: never both): {verdict(clips <= 1)}"
    )
    memory = ", ".join(f"{name} {mb} MB" for name, mb in peaks.items())
    fits = bool(peaks) and max(peaks.values()) <= TARGET_PEAK_MB
    print(f"  peak memory (VmHWM)    {memory} (target <= {TARGET_PEAK_MB} MB each): {verdict(fits)}")


def duplicates(world: World) -> int:
    """Replies identical to the one just before them in the same chat: the script never expects the same twice."""
    count = 0
    for chat in list(world.telegram.by_chat.values()) + list(world.twilio.by_to.values()):
        texts = [r.get("text") or r.get("caption") or r.get("Body") or "" for r in chat]
        count += sum(1 for a, b in itertools.pairwise(texts) if a == b)
    return count


def database(data_dir: Path, env: dict[str, str]) -> str:
    """The name of the MongoDB database the run's processes use."""
    return load_settings(os.environ | env | {"HOMEWARD_DATA_DIR": str(data_dir)}).mongodb_database


def found_in_mongodb(data_dir: Path, env: dict[str, str], contacts: list[Contact]) -> dict[str, Any]:
    """Each confirmed reference checked in the database: the case or sighting, and its photos."""
    url = json.loads((data_dir / "run" / "embedded.json").read_text())["mongodb"]["url"]
    client: pymongo.MongoClient = pymongo.MongoClient(url, serverSelectionTimeoutMS=10_000)
    try:
        db = client[database(data_dir, env)]
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
    print(f"  answered only after the person gave up  {figures['answered_after_giving_up']}")
    print(
        f"waiting for an answer     p50 {figures['wait_p50_s']} s, p95 {figures['wait_p95_s']} s, "
        f"max {figures['wait_max_s']} s"
    )
    print(f"  Telegram redeliveries  {figures['telegram_redeliveries']}")
    if figures["hostile_contacts"]:
        _hostile(figures)
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
