"""The curl examples of the README and of docs/operators/partner-api.md, run as written with real curl against the
live web process: each answers the status its comment promises (`→ 201`)."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from bson import ObjectId
from PIL import Image

from infra.embedded import EmbeddedServer
from storage.api_keys import SCOPES, create_api_key
from storage.connections import Connections
from storage.organisations import create_organisation
from storage.partner_events import record_event
from tests.conftest import make_environment
from tests.live import live_service

ROOT = Path(__file__).resolve().parent.parent
PAGES = (ROOT / "README.md", ROOT / "docs" / "operators" / "partner-api.md")


def examples(page: Path) -> list[tuple[str, int]]:
    """Each curl command of the page's sh blocks (continuation lines joined), with the status its comment names."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", page.read_text(encoding="utf-8"), re.S):
        expected = None
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith("#") and (arrow := re.search(r"→ (\d{3})", line)):
                expected = int(arrow.group(1))
            elif line.startswith("curl "):
                assert expected is not None, f"{page.name}: say the status of `{line[:60]}…` in its comment (→ 200)"
                found.append((line, expected))
                expected = None
    return found


def test_every_call_is_shown_with_curl() -> None:
    shown = " ".join(command for page in PAGES for command, _ in examples(page))
    calls = ("-X PATCH", "/photos", '/candidates"', "/outcome", "/close", "openapi.json", "?status=")
    calls += ('/webhooks"', "/rotate", '/deliveries"', "/redeliver", "-X DELETE")
    for call in (*calls, '/api/v1/cases"', "/cases/$CASE/photos", "/cases/$CASE/candidates/"):
        assert call in shown, f"no curl example calls {call}"


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_the_curl_examples_run_as_written(
    servers: tuple[EmbeddedServer, EmbeddedServer], tmp_path: Path, connections: Connections
) -> None:
    db = connections.db
    photos = {}
    for name, colour in (("PHOTO", "red"), ("PHOTO2", "blue")):
        out = io.BytesIO()
        Image.new("RGB", (64, 80), colour).save(out, "JPEG")
        photos[name] = tmp_path / f"{colour}.jpg"
        photos[name].write_bytes(out.getvalue())
    # Private addresses allowed: the webhook example's partner.example host does not resolve here.
    env = make_environment(
        servers, tmp_path, MONGODB_DATABASE=db.name, HOMEWARD_SIMULATOR="off", HOMEWARD_PARTNER_HOOKS_ALLOW_PRIVATE="1"
    )
    with live_service(env, tmp_path) as url:
        key = create_api_key(db, create_organisation(db, "Sunrise Shelter", "shelter"), list(SCOPES), "t").secret
        shell = {
            "HW": url,
            "KEY": key,
            **{name: str(path) for name, path in photos.items()},
            "REF": "",
            "ETAG": "",
            "CANDIDATE": "",
            **{name: "" for name in ("CASE", "CASE_ETAG", "CASE_CANDIDATE", "HOOK", "DELIVERY")},
        }
        for page in PAGES:
            for command, expected in examples(page):
                if shell["REF"]:
                    _follow(db, url, shell)
                if shell["CASE"]:
                    _follow_case(db, url, shell)
                run = subprocess.run(
                    ["bash", "-c", command + " -o /dev/stderr -w '%{http_code}'"],
                    env=os.environ | shell,
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=False,
                )
                assert run.stdout.strip() == str(expected), f"{page.name}: {command}\n{run.stderr[-1500:]}"
                if not shell["REF"] and (made := re.search(r'"reference": ?"(FP-[^"]+)"', run.stderr)):
                    shell["REF"] = made.group(1)
                if not shell["CASE"] and (made := re.search(r'"reference": ?"(HW-[^"]+)"', run.stderr)):
                    shell["CASE"] = made.group(1)
                if not shell["HOOK"] and (hook := re.search(r'"id": ?"([0-9a-f]{24})".*"secret"', run.stderr, re.S)):
                    shell["HOOK"], shell["DELIVERY"] = hook.group(1), _delivered(db, hook.group(1))


def _delivered(db, endpoint: str) -> str:  # type: ignore[no-untyped-def]
    """A delivery to the endpoint just registered, delivered already: one a partner may ask to be sent again."""
    hook = db.partner_hooks.find_one({"_id": ObjectId(endpoint)})
    (delivery,) = record_event(db, "candidate.approved", "c-1", hook["organisation"], {"found_person": "FP-0000"})
    db.partner_deliveries.update_one({"_id": delivery}, {"$set": {"status": "delivered", "attempts": 1}})
    return str(delivery)


def _follow(db, url: str, shell: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """The ETag of the record as it is now, and an approved match of it to record an outcome on."""
    read = requests.get(
        f"{url}/api/v1/found-persons/{shell['REF']}", headers={"Authorization": f"Bearer {shell['KEY']}"}
    )
    shell["ETAG"] = read.headers["ETag"]
    if not shell["CANDIDATE"]:
        now = datetime.now(UTC)
        match = {"found": shell["REF"], "case": "HW-7K3P", "status": "approved", "created_at": now, "decided_at": now}
        shell["CANDIDATE"] = str(db.candidates.insert_one(match).inserted_id)


def _follow_case(db, url: str, shell: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """The case's ETag as it is now, and an approved match of it (a sighting) to record an outcome on."""
    read = requests.get(f"{url}/api/v1/cases/{shell['CASE']}", headers={"Authorization": f"Bearer {shell['KEY']}"})
    shell["CASE_ETAG"] = read.headers["ETag"]
    if not shell["CASE_CANDIDATE"]:
        now = datetime.now(UTC)
        match = {"kind": "sighting", "sighting": "SG-4M9T", "case": shell["CASE"], "sighting_face_id": ObjectId()}
        match |= {"status": "approved", "created_at": now, "decided_at": now}
        shell["CASE_CANDIDATE"] = str(db.candidates.insert_one(match).inserted_id)
