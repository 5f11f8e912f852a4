"""Every query a partner's calls make uses an index: a key's lookup, its idempotency claims, each kind of list,
an update only if unchanged. An organisation's register grows to tens of thousands; a call must not read it all."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

from flask import Flask

from admin.app import create_app
from config import Settings
from storage.api_keys import SCOPES, create_api_key
from storage.audit import history, seal_api_reads
from storage.connections import Connections
from storage.organisations import create_organisation
from storage.partner_cases import case_approvals
from tests.test_api import RECORD, Partner, jpeg
from tests.test_api_cases import CASE
from tests.test_query_plans import SMALL, Filters, _shape, recorded  # noqa: F401 - the fixture is used below


def calls(app: Flask, partner: Partner) -> None:
    """What a partner's system does in a day."""
    made = partner.call("POST", "/found-persons", RECORD, Idempotency_Key="k-1")
    partner.call("POST", "/found-persons", RECORD, Idempotency_Key="k-1")  # a retry
    reference = made.get_json()["reference"]
    path = f"/found-persons/{reference}"
    form = {"photos": [(io.BytesIO(jpeg()), "a.jpg")]}
    auth = {"Authorization": f"Bearer {partner.key}", "Idempotency-Key": "k-2"}
    partner.http.post(f"/api/v1{path}/photos", data=form, headers=auth, content_type="multipart/form-data")
    for query in ("", "?status=open", "?external_id=R-17", "?updated_since=2026-01-01T00:00:00Z&status=closed"):
        page = partner.call("GET", "/found-persons" + query + ("&" if "?" in query else "?") + "limit=1")
        assert page.status_code == 200
        if page.get_json()["next_cursor"]:
            partner.call("GET", f"/found-persons?limit=1&cursor={page.get_json()['next_cursor']}")
    tag = partner.call("GET", path).headers["ETag"]
    assert partner.call("PATCH", path, {"held_at": "Ward C"}, If_Match=tag).status_code == 200
    partner.call("GET", f"{path}/candidates")
    assert partner.call("POST", f"{path}/close", {"reason": "other"}).status_code == 200


def case_calls(partner: Partner) -> None:
    """What a police station's system does with its cases in a day (api/cases.py)."""
    made = partner.call("POST", "/cases", CASE, Idempotency_Key="c-1")
    partner.call("POST", "/cases", CASE, Idempotency_Key="c-1")  # a retry
    path = f"/cases/{made.get_json()['reference']}"
    for query in ("", "?status=open", "?external_id=FIR-2026-0412", "?updated_since=2026-01-01T00:00:00Z"):
        page = partner.call("GET", "/cases" + query + ("&" if "?" in query else "?") + "limit=1")
        if page.get_json()["next_cursor"]:
            partner.call("GET", f"/cases?limit=1&cursor={page.get_json()['next_cursor']}")
    tag = partner.call("GET", path).headers["ETag"]
    assert partner.call("PATCH", path, {"description": "Blue frock"}, If_Match=tag).status_code == 200
    partner.call("GET", f"{path}/candidates")
    assert partner.call("POST", f"{path}/close", {"reason": "found"}).status_code == 200


def test_a_partners_calls_scan_no_growing_collection(
    settings: Settings,
    recorded: tuple[Filters, Connections],  # noqa: F811 - the fixture of tests/test_query_plans.py
) -> None:
    listener, connections = recorded
    db = connections.db
    app = create_app(settings, connections)
    key = create_api_key(db, create_organisation(db, "Sunrise Shelter", "shelter"), list(SCOPES), "t").secret
    for n in range(3):
        Partner(app.test_client(), key).call("POST", "/found-persons", RECORD | {"external_id": f"R-{n}"})
    calls(app, Partner(app.test_client(), key))
    for n in range(3):
        Partner(app.test_client(), key).call("POST", "/cases", CASE | {"external_id": f"FIR-{n}"})
    case_calls(Partner(app.test_client(), key))
    case_approvals(db, db.api_keys.find_one()["organisation"])  # its panel's notifications
    seal_api_reads(db, datetime.now(UTC) + timedelta(minutes=2))  # the reconciler vouching for the reads
    history(db, ["found:FP-0001"])  # a record's history in the panel, reads included
    scans = []
    for collection, query in sorted(listener.seen.values(), key=lambda seen: _shape(*seen)):
        if collection in SMALL or collection.startswith(("fs.", "photo_files.")):
            continue
        plan = db[collection].find(query).explain()["queryPlanner"]["winningPlan"]
        if "COLLSCAN" in json.dumps(plan, default=str):
            scans.append(f"{collection}: {json.dumps(query, default=str)}")
    assert not scans, "queries that scan a whole collection:\n  " + "\n  ".join(scans)
    assert {"api_keys", "api_requests", "api_reads", "found_persons"} <= {
        collection for collection, _ in listener.seen.values()
    }
