"""The audit log is a signed hash chain: a real run verifies; a hand edit, deletion, insertion or rewrite is named."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from datetime import UTC, datetime

import pytest
from bson import ObjectId
from click.testing import CliRunner
from pymongo.database import Database

from cli.main import group
from config import Settings
from config.keys import DataKeys, new_key
from storage.audit import GENESIS, HEAD, audit, chain_unchained, erase_notes, history
from storage.audit_verify import verify_chain
from storage.canonical import canonical as _canonical
from storage.connections import Connections
from storage.sealing import key_id, use_keys
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


def verify(settings: Settings, *options: str) -> tuple[int, str]:
    result = CliRunner(env=env_of(settings)).invoke(group, ["audit", "verify", *options])
    return result.exit_code, result.output


def anchor(settings: Settings) -> str:
    result = CliRunner(env=env_of(settings)).invoke(group, ["audit", "anchor"])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()[-1]


def rewrite_with_sha256(
    db: Database, seq: int, change: dict, unhashed: tuple[str, ...], drop: tuple[str, ...] = ()
) -> None:
    """What someone with write access to the database does: edit entry `seq`, recompute every hash from it on
    with plain SHA-256 (over every field but `unhashed`, less the fields in `drop`), and move the head counter."""
    before = db.audit.find_one({"seq": seq - 1})
    prev = before["hash"] if before else GENESIS
    for stored in db.audit.find({"seq": {"$gte": seq}}).sort("seq", 1):
        entry = {k: v for k, v in (stored | (change if stored["seq"] == seq else {})).items() if k not in drop}
        entry["prev"] = prev
        fields = {k: v for k, v in entry.items() if k not in ("_id", "hash", *unhashed)}
        entry["hash"] = prev = hashlib.sha256(_canonical(fields)).hexdigest()
        db.audit.replace_one({"_id": entry["_id"]}, entry)
        db.counters.update_one({"_id": HEAD}, {"$set": {"seq": entry["seq"]}}, upsert=True)


def write_unsigned(db: Database, count: int) -> None:
    """Entries as the versions before signing wrote them: SHA-256 over every field but `_id` and `hash`."""
    prev = GENESIS
    for seq in range(1, count + 1):
        entry = {"seq": seq, "prev": prev, "at": datetime(2026, 1, seq, tzinfo=UTC), "user": "admin"}
        entry |= {"action": "view", "target": f"case:HW-000{seq}", "detail_hash": None}
        entry["hash"] = prev = hashlib.sha256(_canonical(entry)).hexdigest()
        db.audit.insert_one(entry)
    db.counters.update_one({"_id": HEAD}, {"$set": {"seq": count}}, upsert=True)


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


@pytest.mark.parametrize(
    ("unhashed", "drop"),
    [
        ((), ()),  # the old algorithm as it was: every field but _id and hash
        (("mac",), ()),  # the new chain's hash exactly, keeping the signatures it cannot make
        (("mac",), ("v", "kid", "mac")),  # the rewritten entries passed off as written before signing existed
    ],
    ids=["old-algorithm", "same-hash-as-signed", "unsigned"],
)
def test_an_edit_with_the_whole_chain_recomputed_by_someone_without_the_key_is_named(
    settings: Settings, db: Database, unhashed: tuple[str, ...], drop: tuple[str, ...]
) -> None:
    for n in range(5):
        audit(db, "reviewer", "reject", f"candidate:{n}")
    rewrite_with_sha256(db, 2, {"user": "someone-else"}, unhashed, drop)
    code, output = verify(settings)
    assert code == 1 and "BROKEN after 1 intact entries: audit entry 2 " in output, output


def test_expect_names_a_cut_off_tail_and_a_chain_rewritten_as_unsigned(settings: Settings, db: Database) -> None:
    for n in range(3):
        audit(db, "admin", "view", f"case:HW-000{n}")
    kept = anchor(settings)
    assert kept == f"3:{db.audit.find_one({'seq': 3})['hash']}"
    audit(db, "admin", "view", "case:HW-0009")
    code, output = verify(settings, "--expect", kept)
    assert code == 0 and f"holds the kept head {kept}" in output, output

    db.audit.delete_many({"seq": {"$gte": 3}})
    db.counters.update_one({"_id": HEAD}, {"$set": {"seq": 2}})  # the tail cut off, the counter moved back
    assert verify(settings)[0] == 0  # nothing inside the chain shows it...
    code, output = verify(settings, "--expect", kept)  # ...the head kept elsewhere does
    assert code == 1 and "the chain ends at entry 2, but the kept head is entry 3" in output, output

    audit(db, "admin", "view", "case:HW-0003")
    kept = anchor(settings)
    rewrite_with_sha256(db, 1, {"user": "someone-else"}, ("mac",), ("v", "kid", "mac"))  # no signature left
    assert verify(settings)[0] == 0  # a chain rewritten whole as unsigned looks like one never signed...
    code, output = verify(settings, "--expect", kept)
    assert code == 1 and "audit entry 3 has hash" in output and "rewritten" in output, output

    code, output = verify(settings, "--expect", "3")
    assert code == 2 and "SEQ:HASH" in output, output


def test_entries_from_before_signing_still_verify_and_the_first_signed_one_vouches_for_them(
    settings: Settings, db: Database
) -> None:
    write_unsigned(db, 3)
    code, output = verify(settings)
    assert code == 0 and "intact: 3 entries (0 signed)" in output, output
    audit(db, "admin", "view", "case:HW-0004")
    code, output = verify(settings)
    assert code == 0 and "intact: 4 entries (1 signed)" in output, output

    rewrite_with_sha256(db, 2, {"user": "someone-else"}, ("mac",))
    code, output = verify(settings)
    assert code == 1 and "audit entry 4 " in output and "signature does not match" in output, output


def test_entries_signed_under_a_retired_data_key_verify_once_a_later_one_is_signed_under_a_listed_key(
    db: Database,
) -> None:
    old, new = new_key(), new_key()
    use_keys(DataKeys((old,), None))
    for n in range(3):
        audit(db, "admin", "view", f"case:HW-000{n}")
    use_keys(DataKeys((new, old), None))  # a rotation under way: both listed
    assert verify_chain(db).ok
    audit(db, "cli", "rotate key", f"key:{key_id(new).hex()}")
    use_keys(DataKeys((new,), None))  # the rotation done: the old key gone
    assert verify_chain(db).ok and verify_chain(db).entries == 4
    rewrite_with_sha256(db, 2, {"user": "someone-else"}, ("mac",))
    assert "audit entry 4 " in verify_chain(db).problem and "signature does not match" in verify_chain(db).problem

    use_keys(DataKeys((new_key(),), None))  # neither key listed: nothing can be checked
    problem = verify_chain(db).problem
    assert (
        f"audit entry 1 (_id {db.audit.find_one({'seq': 1})['_id']}), signed under data key {key_id(old).hex()}"
        in problem
    )
    assert "not listed" in problem


def test_after_rotate_key_drops_the_old_key_the_chain_still_verifies(settings: Settings, db: Database) -> None:
    for n in range(3):
        audit(db, "admin", "view", f"case:HW-000{n}")
    old = settings.data_keys().keys
    result = CliRunner(env=env_of(settings)).invoke(group, ["rotate-key"])
    assert result.exit_code == 0, result.output
    [new] = settings.data_keys().keys  # the old key is gone from the data dir's key file
    assert new not in old
    code, output = verify(settings)
    assert code == 0 and "intact: 4 entries (4 signed)" in output, output
    assert db.audit.find_one({"seq": 4})["kid"] == key_id(new).hex()  # the rotation's entry vouches for 1-3


def test_a_forged_signature_is_named_whatever_it_holds(db: Database) -> None:
    for n in range(3):
        audit(db, "admin", "view", f"case:HW-000{n}")
    for forged in ("0" * 64, "é" * 64, None):
        db.audit.update_one({"seq": 2}, {"$set": {"mac": forged}})
        problem = verify_chain(db).problem
        assert problem.startswith("audit entry 2 ") and "signature does not match" in problem, problem
