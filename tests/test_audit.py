"""The audit log is a hash chain: a real run verifies, and any hand edit, deletion or insertion is named."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime

import pytest
from bson import ObjectId
from click.testing import CliRunner
from pymongo.database import Database

from cli.main import group
from config import Settings
from storage.audit import audit, chain_unchained, erase_notes, history, verify_chain
from storage.connections import Connections
from storage.users import create_user
from tests.chat_harness import Harness
from tests.test_admin_access import PASSWORD, candidate, login  # noqa: F401 - the candidate fixture is used below
from tests.test_cli import env_of


@pytest.fixture
def harness(settings: Settings, connections: Connections) -> Harness:
    made = Harness(settings, connections)
    made.context.settings = dataclasses.replace(settings, case_photo_jitters=1)  # time, not accuracy
    create_user(connections.db, "reviewer", PASSWORD, "reviewer")
    return made


def verify(settings: Settings) -> tuple[int, str]:
    result = CliRunner(env=env_of(settings)).invoke(group, ["audit", "verify"])
    return result.exit_code, result.output


def test_a_real_run_verifies_and_one_hand_edited_entry_is_named(
    harness: Harness,
    candidate: ObjectId,  # noqa: F811 - the fixture imported above, asked for by name
    settings: Settings,
) -> None:
    client, admin_password = harness.client, settings.admin_password or ""
    login(client, "admin", "a-wrong-password")
    token = login(client, "admin", admin_password)
    assert client.get(f"/candidates/{candidate}").status_code == 200
    face = harness.db.candidates.find_one({"_id": candidate})["sighting_face_id"]
    assert client.get(f"/images/faces/{face}/crop.jpg").status_code == 200
    reason = "Different person: the mole is on the other cheek"
    form = {"action": "reject", "reason": reason, "csrf_token": token}
    client.post(f"/candidates/{candidate}/decide", data=form)
    client.post(f"/candidates/{candidate}/decide", data=form)  # a second decision is refused, and audited
    assert client.get("/exports/cases.csv").status_code == 200
    new_user = {"username": "nadia", "password": "another-long-password", "role": "reviewer", "csrf_token": token}
    client.post("/users/", data=new_user)
    actions = [e["action"] for e in harness.db.audit.find().sort("seq", 1)]
    for expected in ("login failed", "login", "view", "view crop", "reject", "reject refused", "export", "create user"):
        assert expected in actions
    assert all("mole" not in str(entry) for entry in harness.db.audit.find())  # free text lives in the notes
    assert reason in [h["detail"] for h in history(harness.db, [f"candidate:{candidate}"])]

    code, output = verify(settings)
    assert code == 0 and f"intact: {len(actions)} entries" in output, output
    seq = actions.index("reject") + 1
    harness.db.audit.update_one({"seq": seq}, {"$set": {"user": "someone-else"}})
    code, output = verify(settings)
    assert code == 1 and f"audit entry {seq} " in output and "was altered" in output, output


def test_a_deleted_replaced_or_inserted_entry_is_named(db: Database) -> None:
    for n in range(5):
        audit(db, "admin", "view", f"case:HW-000{n}")
    assert verify_chain(db).ok and verify_chain(db).entries == 5
    db.audit.delete_one({"seq": 3})
    assert verify_chain(db).problem.startswith("audit entry 3 is missing")

    replaced = db.audit.find_one({"seq": 4})
    db.audit.insert_one(db.audit.find_one({"seq": 2}) | {"_id": ObjectId(), "seq": 3})  # a copy filling the gap
    verdict = verify_chain(db)
    assert not verdict.ok and "audit entry 3 " in verdict.problem and verdict.entries == 2
    db.audit.delete_one({"seq": 3})
    db.audit.insert_one({"at": datetime.now(UTC), "user": "x", "action": "view", "target": "case:HW-9999"})
    db.audit.insert_one(replaced | {"_id": ObjectId(), "seq": 3, "hash": replaced["hash"]})
    assert "does not follow entry 2" in verify_chain(db).problem


def test_a_cut_off_tail_is_named_once_anything_is_written_after_it(db: Database) -> None:
    for n in range(4):
        audit(db, "admin", "view", f"case:HW-000{n}")
    db.audit.delete_many({"seq": {"$gte": 3}})  # the last two entries, gone
    assert verify_chain(db).ok  # a chain cut short looks whole... (hence: keep the head hash elsewhere)
    audit(db, "admin", "view", "case:HW-0009")
    assert verify_chain(db).problem.startswith("audit entry 3 is missing: the next one found is audit entry 5")


def test_an_edited_note_is_detected_and_an_erased_one_is_not_a_break(db: Database) -> None:
    audit(db, "reviewer", "reject", "candidate:1", "looks like Maria from the market")
    audit(db, "reviewer", "close", "case:HW-AAAA", "found by her aunt")
    db.audit_notes.update_one({"target": "case:HW-AAAA"}, {"$set": {"detail": "found"}})
    assert "the note of audit entry 2" in verify_chain(db).problem
    assert erase_notes(db, ["candidate:1", "case:HW-AAAA"]) == 2
    assert verify_chain(db).ok
    assert [h["detail"] for h in history(db, ["candidate:1"])] == [""]


def test_concurrent_writers_never_fork_the_chain(db: Database) -> None:
    def write(n: int) -> None:
        for i in range(20):
            audit(db, f"user{n}", "view", f"case:{n}-{i}")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    verdict = verify_chain(db)
    assert verdict.ok and verdict.entries == 80
    assert sorted(e["seq"] for e in db.audit.find()) == list(range(1, 81))


def test_entries_from_before_the_chain_are_brought_into_it(db: Database) -> None:
    old = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    db.audit.insert_many(
        [
            {"at": old, "user": "admin", "action": "login", "target": "user:admin", "detail": ""},
            {"at": old, "user": "rev", "action": "reject", "target": "candidate:7", "detail": "Different person"},
        ]
    )
    assert "outside the chain" in verify_chain(db).problem
    assert chain_unchained(db) == 2
    assert verify_chain(db).ok and verify_chain(db).entries == 2
    [rejected] = history(db, ["candidate:7"])
    assert rejected["detail"] == "Different person" and rejected["at"] == old and "detail_hash" in rejected
