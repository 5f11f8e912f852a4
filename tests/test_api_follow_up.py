"""A found person registered by API meets a family's case: the partner follows the match through the API from
review to reunion, seeing the family's case reference only once a reviewer approved it; reunited closes both."""

from __future__ import annotations

import io
import json
from pathlib import Path

from config import Settings
from storage.api_keys import SCOPES, create_api_key
from storage.connections import Connections
from storage.organisations import create_organisation
from storage.users import create_user
from tests.chat_harness import Harness
from tests.test_api import RECORD, Partner
from tests.test_found_matching import approve, report
from tests.test_matching import SAME_PERSON, lfw
from tests.test_panel_security import PASSWORD


def test_a_partner_follows_its_match_by_api_from_review_to_reunion(
    settings: Settings, connections: Connections, faces_dir: Path
) -> None:
    harness = Harness(settings, connections)
    db = harness.db
    create_user(db, "reviewer", PASSWORD, "reviewer")
    case = report(harness, "family", lfw(faces_dir, SAME_PERSON[0]))
    shelter = create_organisation(db, "Shelter North", "shelter", phone="+44 113 000")
    partner = Partner(harness.app.test_client(), create_api_key(db, shelter, list(SCOPES), "t").secret)
    photo = lfw(faces_dir, SAME_PERSON[1]).read_bytes()
    form = {"record": json.dumps(RECORD | {"age_min": 60, "age_max": 70}), "photos": [(io.BytesIO(photo), "p.jpg")]}
    headers = {"Authorization": f"Bearer {partner.key}", "Idempotency-Key": "SN-0042"}
    made = partner.http.post("/api/v1/found-persons", data=form, headers=headers, content_type="multipart/form-data")
    assert made.status_code == 201, made.get_data(as_text=True)
    found = made.get_json()["reference"]
    harness.work()  # the worker analyses the photo and searches its face against the open cases

    matches = partner.call("GET", f"/found-persons/{found}/candidates").get_json()["data"]
    assert [(m["status"], m["case"], m["follow_up"]) for m in matches] == [("pending", None, "under review")]
    outcome = f"/found-persons/{found}/candidates/{matches[0]['id']}/outcome"
    assert partner.call("POST", outcome, {"outcome": "reunited"}).status_code == 409  # not approved yet

    approve(harness, matches[0]["id"])
    matches = partner.call("GET", f"/found-persons/{found}/candidates").get_json()["data"]
    assert (matches[0]["status"], matches[0]["case"], matches[0]["outcome_settable"]) == ("approved", case, True)
    assert "Colin" not in json.dumps(matches)  # the family's name is never the partner's

    recorded = partner.call("POST", outcome, {"outcome": "reunited"}, Idempotency_Key="reunion-1")
    assert recorded.status_code == 200 and recorded.get_json()["outcome"] == "reunited"
    harness.work()
    assert db.cases.find_one({"reference": case})["status"] == "closed"
    record = partner.call("GET", f"/found-persons/{found}").get_json()
    assert (record["status"], record["closed_reason"]) == ("closed", "reunited")
    assert partner.call("POST", outcome, {"outcome": "reunited"}).status_code == 409  # final
    assert len(list(db.outbox.find({"source": f"reunited:{matches[0]['id']}"}))) == 1  # the family thanked once
