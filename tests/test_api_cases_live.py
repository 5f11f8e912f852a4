"""Cases from organisations over real HTTP, against the running web process and worker (tests/live.py).

A police station's system registers a case with a photo; a shelter's system registers a found person with a photo
of the same man; the worker matches them; a reviewer approves in the panel (its login form and CSRF token, over
HTTP); the police's receiver gets the signed `candidate.approved`, its registrar's notifications list it, its system
reads what the approval shared and records `reunited`, which closes both sides. Neither key sees the other's record.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import requests

from core.partner_hooks import verify
from infra.embedded import EmbeddedServer
from services.partner_events import register_endpoint
from storage.api_keys import SCOPES, create_api_key
from storage.connections import Connections
from storage.organisations import create_organisation
from storage.users import create_user
from tests.conftest import make_environment
from tests.live import live_service
from tests.test_admin_access import PASSWORD
from tests.test_api import RECORD
from tests.test_api_cases import CASE
from tests.test_api_live import session
from tests.test_end_to_end import wait_until
from tests.test_matching import SAME_PERSON, lfw
from tests.test_partner_hooks import Receiver, receiver  # noqa: F401 - receiver is a fixture


def panel(url: str, username: str, home_page: str = "/") -> tuple[requests.Session, str]:
    """A panel session logged in through its form, and the CSRF token its pages carry."""
    browser = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get(f"{url}/login").text).group(1)  # type: ignore[union-attr]
    browser.post(f"{url}/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    home = browser.get(f"{url}{home_page}")
    token = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert token is not None and "Log out" in home.text, (
        f"{username} could not log in: {home.status_code} {home.text[:300]}"
    )
    return browser, token.group(1)


def test_a_case_registered_by_api_matches_a_found_person_and_the_approval_reaches_the_police(
    servers: tuple[EmbeddedServer, EmbeddedServer],
    tmp_path: Path,
    connections: Connections,
    faces_dir: Path,
    receiver: Receiver,  # noqa: F811 - the fixture of tests/test_partner_hooks.py
) -> None:
    db = connections.db
    env = make_environment(
        servers, tmp_path, MONGODB_DATABASE=db.name, HOMEWARD_SIMULATOR="off", HOMEWARD_PARTNER_HOOKS_ALLOW_PRIVATE="1"
    )
    with live_service(env, tmp_path) as url:
        police_org = create_organisation(db, "Saket Police Station", "police")
        police = session(create_api_key(db, police_org, list(SCOPES), "t").secret)
        shelter = session(
            create_api_key(db, create_organisation(db, "Sunrise Shelter", "shelter"), list(SCOPES), "t").secret
        )
        secret = register_endpoint(db, police_org, receiver.url, ["candidate.approved"], "t", allow_private=True)[1]
        held = lfw(faces_dir, SAME_PERSON[0])
        found = shelter.post(
            f"{url}/api/v1/found-persons",
            files={"record": (None, json.dumps(RECORD), "application/json"), "photos": (held.name, held.read_bytes())},
        )
        assert found.status_code == 201, found.text
        missing = lfw(faces_dir, SAME_PERSON[1])
        started = time.monotonic()
        made = police.post(
            f"{url}/api/v1/cases",
            files={
                "record": (None, json.dumps(CASE), "application/json"),
                "photos": (missing.name, missing.read_bytes()),
            },
            headers={"Idempotency-Key": "fir-0412"},
        )
        acknowledged = time.monotonic() - started
        assert made.status_code == 201 and acknowledged < 5, made.text
        reference = made.json()["reference"]
        candidate = wait_until(
            lambda: db.candidates.find_one({"case": reference}), "the case to match the found person"
        )
        assert candidate["found"] == found.json()["reference"]
        assert police.get(f"{url}/api/v1/cases/{reference}/candidates").json()["data"][0]["match"] is None

        create_user(db, "reviewer", PASSWORD, "reviewer")
        reviewer, token = panel(url, "reviewer")
        decided = reviewer.post(
            f"{url}/candidates/{candidate['_id']}/decide",
            data={"action": "approve", "csrf_token": token},
            allow_redirects=False,
        )
        assert decided.status_code == 302, decided.text
        wait_until(receiver.events, "the police's receiver to hear of the approval")
        sent = receiver.received[0]
        assert verify(secret, sent["headers"]["Homeward-Signature"], sent["body"], int(time.time()))
        assert json.loads(sent["body"])["data"]["case"] == reference

        [row] = police.get(f"{url}/api/v1/cases/{reference}/candidates").json()["data"]
        assert row["status"] == "approved" and row["match"]["held_by"] == "Sunrise Shelter"
        create_user(db, "asi", PASSWORD, "registrar", organisation=police_org)
        registrar, _ = panel(url, "asi", "/found/")  # a registrar sees only its found persons' pages
        notifications = registrar.get(f"{url}/found/notifications").text
        assert reference in notifications and found.json()["reference"] in notifications

        done = police.post(
            f"{url}/api/v1/cases/{reference}/candidates/{row['id']}/outcome",
            json={"outcome": "reunited"},
            headers={"Idempotency-Key": "fir-0412-reunited"},
        )
        assert done.status_code == 200 and done.json()["outcome"] == "reunited", done.text
        assert police.get(f"{url}/api/v1/cases/{reference}").json()["status"] == "closed"
        assert shelter.get(f"{url}/api/v1/found-persons/{found.json()['reference']}").json()["status"] == "closed"
        assert shelter.get(f"{url}/api/v1/cases/{reference}").status_code == 404
        assert police.get(f"{url}/api/v1/found-persons/{found.json()['reference']}").status_code == 404
