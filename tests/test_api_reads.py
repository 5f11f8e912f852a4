"""API reads are recorded with one cheap insert each, and the audit chain vouches for them by batches.

`homeward audit verify` names a read record that was edited or deleted; the records show in a record's history.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask

from config import Settings
from storage.api_reads import SEAL_GRACE
from storage.audit import EXPIRED_ACTION, READS_ACTION, history, seal_api_reads
from storage.audit_verify import verify_chain
from storage.connections import Connections
from tests.chat_harness import Harness
from tests.test_api import app, partner  # noqa: F401 - the app fixture is used below
from tests.test_audit import verify
from workers.reconciler import reconcile
from workers.retention import sweep

LATER = SEAL_GRACE + timedelta(seconds=5)  # past the grace: every read recorded so far is sealed


def read_three(app: Flask, connections: Connections) -> tuple[str, list[str]]:  # noqa: F811
    """A partner creates a record and reads it three times; its reference and the request ids of the reads."""
    sunrise = partner(app, connections, "Sunrise Shelter")
    reference = sunrise.create().get_json()["reference"]
    answers = [sunrise.call("GET", f"/found-persons/{reference}", X_Request_Id=f"read-{n}") for n in range(3)]
    assert all(a.status_code == 200 for a in answers)
    return reference, [a.headers["X-Request-Id"] for a in answers]


def test_a_read_is_recorded_with_its_key_outside_the_chain_and_shows_in_the_records_history(
    app: Flask,  # noqa: F811
    connections: Connections,
) -> None:
    db = connections.db
    reference, request_ids = read_three(app, connections)
    key = db.api_keys.find_one()
    reads = list(db.api_reads.find().sort("_id", 1))
    assert [r["request_id"] for r in reads] == request_ids
    assert {(r["key"], r["organisation"], r["method"]) for r in reads} == {(key["_id"], key["organisation"], "GET")}
    assert reads[0]["route"] == "/api/v1/found-persons/<reference>" and reads[0]["targets"] == [f"found:{reference}"]
    chained = [e["action"] for e in db.audit.find().sort("seq", 1)]
    assert "api POST /api/v1/found-persons" in chained and not [a for a in chained if "GET" in a]  # writes only
    shown = history(db, [f"found:{reference}"])
    assert [h["action"] for h in shown][:3] == ["api GET /api/v1/found-persons/<reference>"] * 3
    assert {h["user"] for h in shown} == {f"api-key:{key['_id']}"} and shown[0]["detail"] == "request read-2"


def test_the_chain_vouches_for_reads_by_batches_and_verify_passes(
    app: Flask,  # noqa: F811
    connections: Connections,
    settings: Settings,
) -> None:
    db = connections.db
    read_three(app, connections)
    assert seal_api_reads(db, datetime.now(UTC)) == 0  # within the grace: a request may still be inserting
    assert seal_api_reads(db, datetime.now(UTC) + LATER, batch=2) == 3
    batches = list(db.audit.find({"action": READS_ACTION}).sort("seq", 1))
    assert [b["facts"]["count"] for b in batches] == [2, 1]
    assert seal_api_reads(db, datetime.now(UTC) + LATER) == 0  # nothing sealed twice
    assert verify_chain(db).ok
    code, output = verify(settings)
    assert code == 0 and "audit chain intact" in output


def test_an_edited_or_deleted_read_record_breaks_verify_naming_it(
    app: Flask,  # noqa: F811
    connections: Connections,
    settings: Settings,
) -> None:
    db = connections.db
    read_three(app, connections)
    seal_api_reads(db, datetime.now(UTC) + LATER)
    first, second, third = list(db.api_reads.find().sort("_id", 1))

    db.api_reads.update_one({"_id": second["_id"]}, {"$set": {"targets": ["found:FP-OTHER"]}})
    code, output = verify(settings)
    assert code == 1 and f"API read record {second['_id']}" in output and "altered" in output
    db.api_reads.replace_one({"_id": second["_id"]}, second)
    assert verify_chain(db).ok

    db.api_reads.delete_one({"_id": third["_id"]})
    code, output = verify(settings)
    assert code == 1 and f"API read record {third['_id']}" in output and "deleted" in output

    db.api_reads.delete_one({"_id": first["_id"]})
    verdict = verify_chain(db)
    assert not verdict.ok and "3 read records" in verdict.problem and "1 are there" in verdict.problem

    db.api_reads.insert_many([first, third])
    assert verify_chain(db).ok  # put back as they were: the batch is whole again


def test_the_reconciler_seals_reads_and_the_sweep_expires_them_keeping_verify_intact(
    app: Flask,  # noqa: F811
    connections: Connections,
    settings: Settings,
) -> None:
    db = connections.db
    reference, _ = read_three(app, connections)
    harness = Harness(settings, connections)
    assert reconcile(harness.context, datetime.now(UTC) + LATER)["api_reads_sealed"] == 3
    assert (
        sweep(db, datetime.now(UTC) + timedelta(days=settings.retention.api_reads_days - 1), settings.retention)[
            "api_reads"
        ]
        == 0
    )
    year = datetime.now(UTC) + timedelta(days=settings.retention.api_reads_days + 1)
    assert sweep(db, year, settings.retention)["api_reads"] == 3
    assert db.api_reads.count_documents({}) == 0 and history(db, [f"found:{reference}"])[0]["action"] == "register"
    assert sweep(db, year, settings.retention)["api_reads"] == 0  # nothing more, and no second entry
    assert [e["action"] for e in db.audit.find({"action": EXPIRED_ACTION})] == [EXPIRED_ACTION]
    assert verify_chain(db).ok  # the chain says the batch went: its records are no longer looked for
