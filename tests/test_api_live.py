"""The partner API over real HTTP against the running web process and worker (tests/live.py).

A partner's system registers a found person with a photo; a retry with the same Idempotency-Key (one after the
other, and two at once) makes one record; the worker analyses the photo and searches its face, so it takes part in
matching; another organisation's key sees nothing of it.
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any

import requests

from infra.embedded import EmbeddedServer
from storage.api_keys import SCOPES, create_api_key
from storage.connections import Connections
from storage.organisations import create_organisation
from tests.conftest import make_environment
from tests.live import live_service
from tests.test_api import RECORD
from tests.test_end_to_end import wait_until
from tests.test_matching import SAME_PERSON, lfw


def session(key: str) -> requests.Session:
    made = requests.Session()
    made.headers["Authorization"] = f"Bearer {key}"
    return made


def register(partner: requests.Session, url: str, photo: Path, idempotency_key: str) -> requests.Response:
    """One admission per Idempotency-Key: each its own register number (one number is one record)."""
    files = {
        "record": (None, json.dumps(RECORD | {"external_id": f"SR-{idempotency_key}"}), "application/json"),
        "photos": (photo.name, photo.read_bytes(), "image/jpeg"),
    }
    return partner.post(f"{url}/api/v1/found-persons", files=files, headers={"Idempotency-Key": idempotency_key})


def test_a_found_person_registered_by_api_is_analysed_matched_and_private_to_its_organisation(
    servers: tuple[EmbeddedServer, EmbeddedServer], tmp_path: Path, connections: Connections, faces_dir: Path
) -> None:
    db = connections.db
    env = make_environment(servers, tmp_path, MONGODB_DATABASE=db.name, HOMEWARD_SIMULATOR="off")
    with live_service(env, tmp_path) as url:
        sunrise = session(
            create_api_key(db, create_organisation(db, "Sunrise Shelter", "shelter"), list(SCOPES), "t").secret
        )
        city = session(
            create_api_key(db, create_organisation(db, "City Hospital", "hospital"), list(SCOPES), "t").secret
        )
        photo = lfw(faces_dir, SAME_PERSON[0])
        first = register(sunrise, url, photo, "admission-17")
        assert first.status_code == 201, first.text
        reference = first.json()["reference"]
        retried = register(sunrise, url, photo, "admission-17")
        assert retried.status_code == 201 and retried.json()["reference"] == reference
        assert retried.headers["Idempotent-Replayed"] == "true"

        together = _at_once(lambda: register(sunrise, url, photo, "admission-18"), 2)
        assert {answer.status_code for answer in together} <= {201, 409}, [a.text for a in together]
        assert len({a.json()["reference"] for a in together if a.status_code == 201}) == 1
        assert db.found_persons.count_documents({}) == 2 and db.photos.count_documents({}) == 2

        record = wait_until(
            lambda: (
                (r := sunrise.get(f"{url}/api/v1/found-persons/{reference}").json())["photos"][0]["status"] != "pending"
                and r
            ),
            "the worker to analyse the photo sent by API",
        )
        assert record["photos"][0]["status"] == "analysed", record
        photo_id = record["photos"][0]["id"]
        assert db.faces.count_documents({"owner.kind": "found", "owner.id": reference, "quality": "ok"}) == 1
        wait_until(lambda: db.photos.find_one({"owner.id": reference}).get("matched_at"), "its face to be searched")
        assert photo_id

        for path in (f"/found-persons/{reference}", f"/found-persons/{reference}/candidates"):
            refused = city.get(f"{url}/api/v1{path}")
            assert refused.status_code == 404 and refused.headers["Content-Type"] == "application/problem+json"
        assert city.get(f"{url}/api/v1/found-persons").json()["data"] == []
        assert requests.get(f"{url}/api/v1/found-persons").status_code == 401
        echoed = sunrise.get(f"{url}/api/v1/found-persons", headers={"X-Request-Id": "partner-42"})
        assert echoed.headers["X-Request-Id"] == "partner-42"
        huge = sunrise.post(
            f"{url}/api/v1/found-persons/{reference}/photos",
            files={"photos": ("huge.jpg", photo.read_bytes() + b"\0" * (50 * 2**20), "image/jpeg")},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        assert huge.status_code == 413 and huge.json()["status"] == 413


def _at_once(call: Any, times: int) -> list[requests.Response]:
    answers: list[requests.Response] = []
    start = threading.Barrier(times)

    def run() -> None:
        start.wait()
        answers.append(call())

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers
