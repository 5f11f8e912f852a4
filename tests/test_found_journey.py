"""A found person's whole journey, driven as people would, against the real web process and worker.

A shelter's registrar (headless Chromium) registers a man with an LFW photo, recording a gender and an age range
the family will contradict, and imports a CSV + ZIP (3 good rows, 2 bad) whose report it reads. A family reports
the same man on Telegram (updates posted as Telegram posts them; the worker's real python-telegram-bot client
answers the stand-in Bot API). A reviewer finds the candidate in the queue with its flags and approves it; the
family's chat receives the shelter's contact details and the references to quote; the registrar sees the
notification. A registrar of another organisation then tries every route of the shelter's records (enumerated
from the app's url_map, GET and POST) and is refused each one; finally the registrar records `reunited`, which
closes the case and the found person, and the overview's funnel counts it.

One live service is shared by every step, in one test: each step starts from what the last one left.
"""

from __future__ import annotations

import html
import http.cookiejar
import itertools
import re
import urllib.error
import urllib.parse
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId
from pymongo.database import Database

from admin.app import create_app
from config import Settings
from storage.connections import Connections
from storage.organisations import create_organisation
from storage.users import create_user
from tests.test_end_to_end import FAMILY_CHAT, family_says, wait_until, world  # noqa: F401 - world: the fixture
from tests.test_found_browser import PASSWORD, log_in, log_out
from tests.test_found_import import HEADER, write_zip
from tests.test_found_import import lfw as lfw_bytes
from tests.test_matching import SAME_PERSON, lfw

pytest.importorskip("selenium")
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

SHELTER, SHELTER_PHONE, OTHER = "Sunrise Shelter", "+91 11 5550 1234", "City Hospital"
REVIEWER, REVIEWER_PASSWORD = "rosa", "rosa-reviews-carefully"  # test_end_to_end's world makes her
# Where the url_map's routes of a shelter's records start; a new route under them is tried with no change here.
GUARDED_PREFIXES = ("/found/", "/candidates/", "/images/", "/cases/", "/outcomes")


@pytest.fixture
def journey(
    world: dict[str, Any],  # noqa: F811 - the fixture
    settings: Settings,
    connections: Connections,
    tmp_path: Path,
) -> dict[str, Any]:
    """test_end_to_end's live service (Telegram at a stand-in, reviewer rosa), a shelter, and two registrars."""
    db = world["db"]
    shelter = create_organisation(db, SHELTER, "shelter", phone=SHELTER_PHONE, hours="always open")
    create_user(db, "sita", PASSWORD, "registrar", shelter)
    create_user(db, "hari", PASSWORD, "registrar", create_organisation(db, OTHER, "hospital"))
    return world | {"settings": settings, "connections": connections, "tmp": tmp_path}


def test_a_found_person_is_registered_matched_approved_followed_to_reunion_and_kept_from_other_organisations(
    journey: dict[str, Any], browser: Any
) -> None:
    url, db = journey["url"], journey["db"]
    log_in(browser, url, "sita", PASSWORD)
    found = register_in_the_panel(browser, journey)
    import_id = import_and_read_the_report(browser, journey)
    log_out(browser)

    case = family_reports_on_telegram(journey)
    candidate = wait_until(lambda: db.candidates.find_one({"case": case, "found": found}), "the found candidate")

    log_in(browser, url, REVIEWER, REVIEWER_PASSWORD, "/review")
    approve_the_flagged_candidate(browser, journey, found, candidate["_id"])
    log_out(browser)
    family_is_told_whom_to_contact(journey, case, found)

    log_in(browser, url, "sita", PASSWORD)
    registrar_sees_the_notification(browser, journey, found, case)

    every_route_of_the_shelter_refuses_another_organisation(journey, found, case, candidate["_id"], import_id)

    record_the_reunion(browser, journey, found, case, candidate["_id"])
    log_out(browser)
    log_in(browser, url, REVIEWER, REVIEWER_PASSWORD, "/outcomes?days=7")
    funnel = funnel_rows(browser)
    assert funnel["All"]["Reunited"] == funnel[SHELTER]["Reunited"] == "1"
    assert funnel[SHELTER]["Approved"] == "1" and funnel["All"]["Not the person"] == "0"


def register_in_the_panel(browser: Any, journey: dict[str, Any]) -> str:
    """A man the family will say is 70 and male, registered as a woman of 20 to 30: two flags to come."""
    browser.find_element(By.ID, "register-link").click()
    browser.find_element(By.ID, "photos").send_keys(str(lfw(journey["faces"], SAME_PERSON[0])))
    found_on = browser.find_element(By.ID, "found_on")
    browser.execute_script("arguments[0].value = arguments[1]", found_on, date.today().isoformat())
    browser.find_element(By.ID, "held_at").send_keys("Ward 2, bed 7")
    browser.find_element(By.ID, "age_min").send_keys("20")
    browser.find_element(By.ID, "age_max").send_keys("30")
    Select(browser.find_element(By.ID, "gender")).select_by_visible_text("female")
    browser.find_element(By.ID, "external_id").send_keys("SUN-0042")
    browser.find_element(By.ID, "register-button").click()
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.ID, "record"))
    reference = browser.find_element(By.TAG_NAME, "h1").text.split()[0]
    assert reference.startswith("FP-") and "open" in browser.find_element(By.TAG_NAME, "h1").text
    db = journey["db"]
    wait_until(
        lambda: db.faces.count_documents({"owner": {"kind": "found", "id": reference}}) == 1,
        "the worker to keep the found person's face",
    )
    return reference


def import_and_read_the_report(browser: Any, journey: dict[str, Any]) -> ObjectId:
    """Three people nobody reported, then a photo missing from the ZIP (line 5) and a date nobody writes (line 6)."""
    faces, tmp = journey["faces"], journey["tmp"]
    rows = [
        HEADER,
        "SUN-1,2026-11-30,Central station,Ward 3,30,40,male,alive,grey coat,tony.jpg",
        "SUN-2,01/12/2026,Market,Ward 1,,,male,alive,,aaron.jpg",
        "SUN-3,1 Dec 2026,,Room 2,50,60,male,alive,found near the river,people/george.jpg",
        "SUN-4,2026-11-01,,,,,female,alive,,nobody.jpg",
        "SUN-5,the 31st of Smarch,,,,,male,alive,,tony.jpg",
    ]
    csv = tmp / "people.csv"
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    photos = {"tony.jpg": lfw_bytes(faces, "Tony_Blair"), "aaron.jpg": lfw_bytes(faces, "Aaron_Eckhart")}
    photos["people/george.jpg"] = lfw_bytes(faces, "George_W_Bush")
    archive = write_zip(tmp / "photos.zip", photos)

    browser.find_element(By.LINK_TEXT, "Found persons").click()
    browser.find_element(By.ID, "import-link").click()
    browser.find_element(By.ID, "csv").send_keys(str(csv))
    browser.find_element(By.ID, "photos").send_keys(str(archive))
    browser.find_element(By.ID, "import-button").click()
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.ID, "status"))
    WebDriverWait(browser, 120).until(  # reloaded by hand: the page's own reload (5 s) is test_found_import_browser's
        lambda d: d.find_elements(By.CSS_SELECTOR, "#summary #imported") or d.refresh()
    )
    assert browser.find_element(By.ID, "status").text == "done"
    assert browser.find_element(By.ID, "imported").text == "3"
    rejected = {
        row.get_attribute("data-line"): row.text
        for row in browser.find_elements(By.CSS_SELECTOR, "#rejected tr[data-line]")
    }
    assert sorted(rejected) == ["5", "6"]
    assert "SUN-4" in rejected["5"] and "nobody.jpg is not among the photos given" in rejected["5"]
    assert "SUN-5" in rejected["6"] and "the 31st of Smarch" in rejected["6"]
    assert journey["db"].found_persons.count_documents({"external_id": {"$in": ["SUN-4", "SUN-5"]}}) == 0
    return ObjectId(browser.current_url.rstrip("/").rsplit("/", 1)[1])


def family_reports_on_telegram(journey: dict[str, Any]) -> str:
    """The family of the man the shelter holds: 70, male, last seen yesterday; another photo of him."""
    journey["telegram"].add_file("colin", lfw(journey["faces"], SAME_PERSON[1]).read_bytes())
    family_says(journey, "/start", "yes", "1", "Colin Powell", "70", "male", "Connaught Place", "yesterday 5pm", "skip")
    photo = {"file_id": "colin", "file_unique_id": "c", "width": 250, "height": 250, "file_size": 20_000}
    family_says(journey, {"photo": [photo]}, "done", "yes")
    said = journey["telegram"].texts(FAMILY_CHAT)
    reference = re.search(r"reference is (HW-[0-9A-Z]{4})", said[-1])
    assert reference, f"the family got no case reference: {said[-1]!r}"
    return reference.group(1)


def approve_the_flagged_candidate(browser: Any, journey: dict[str, Any], found: str, candidate: ObjectId) -> None:
    """The queue shows the candidate with its flags (never hidden); its page says why; the reviewer approves."""
    row = browser.find_element(By.CSS_SELECTOR, f'#queue tr[data-found="{found}"]')
    assert row.get_attribute("data-kind") == "found"
    assert [f.get_attribute("data-flag") for f in row.find_elements(By.CSS_SELECTOR, ".flag")] == ["gender", "age"]
    row.find_element(By.CSS_SELECTOR, "a.open").click()
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.ID, "approve"))
    assert browser.current_url.endswith(f"/candidates/{candidate}")
    flags = browser.find_element(By.ID, "flags").text
    assert "Gender differs" in flags and "'male'" in flags and "female" in flags
    assert "Age does not fit" in flags and "20-30" in flags
    assert browser.find_element(By.ID, "organisation").text == SHELTER
    assert browser.find_element(By.ID, "held-at").text == "Ward 2, bed 7"
    browser.find_element(By.ID, "approve").click()
    flash = WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".flash"))
    assert "Approved" in flash[0].text


def family_is_told_whom_to_contact(journey: dict[str, Any], case: str, found: str) -> None:
    """What the stand-in Bot API received for the family's chat: the shelter, its phone, and what to quote."""
    told = wait_until(
        lambda: [
            m for m in journey["telegram"].by_chat.get(FAMILY_CHAT, []) if "in the care of" in m.get("caption", "")
        ],
        "the family's message about the shelter",
    )
    assert len(told) == 1 and told[0]["method"] == "sendPhoto" and told[0]["has_photo"]  # alive: with the photo
    for said in (SHELTER, SHELTER_PHONE, "always open", case, found, "SUN-0042"):
        assert said in told[0]["caption"], f"{said!r} is not in the family's message: {told[0]['caption']!r}"


def registrar_sees_the_notification(browser: Any, journey: dict[str, Any], found: str, case: str) -> None:
    link = browser.find_element(By.ID, "notifications-link")
    assert link.text == "Notifications (1)"
    link.click()
    rows = WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#notifications tbody tr.new"))
    assert len(rows) == 1 and found in rows[0].text and case in rows[0].text
    assert "Colin Powell" not in browser.page_source  # the family's case is shared by reference, not by name
    assert browser.find_element(By.ID, "notifications-link").text == "Notifications"  # opening it is seeing them


def record_the_reunion(browser: Any, journey: dict[str, Any], found: str, case: str, candidate: ObjectId) -> None:
    """The registrar records `reunited` on its record's page: both sides close and the family is thanked."""
    browser.get(f"{journey['url']}/found/{found}")
    Select(browser.find_element(By.ID, f"outcome-{candidate}")).select_by_value("reunited")
    browser.find_element(By.CSS_SELECTOR, f'form.outcome[action$="/{candidate}/outcome"] button').click()
    # The click posts the form and the page reloads: a heading read meanwhile belongs to the page going away.
    WebDriverWait(browser, 20, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: "closed (reunited)" in d.find_element(By.TAG_NAME, "h1").text
    )
    assert "reunited" in browser.find_element(By.ID, "matches").text
    db = journey["db"]
    assert db.cases.find_one({"reference": case})["status"] == "closed"
    settled = db.candidates.find_one({"_id": candidate})
    assert settled["outcome"] == "reunited" and settled["outcome_by"] == "sita"
    wait_until(
        lambda: any("together again" in text for text in journey["telegram"].texts(FAMILY_CHAT)), "the family's thanks"
    )


def funnel_rows(browser: Any) -> dict[str, dict[str, str]]:
    table = browser.find_element(By.ID, "funnel")
    header = [cell.get_attribute("textContent").strip() for cell in table.find_elements(By.CSS_SELECTOR, "tr th")]
    rows = {}
    for row in table.find_elements(By.CSS_SELECTOR, "tr"):
        cells = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        if cells:
            rows[cells[0]] = dict(zip(header[1:], cells[1:], strict=True))
    return rows


def every_route_of_the_shelter_refuses_another_organisation(
    journey: dict[str, Any], found: str, case: str, candidate: ObjectId, import_id: ObjectId
) -> None:
    """The hospital's registrar tries each guarded route with each of the shelter's ids: 403 or 404, every one.

    Run while the match is approved and no outcome is set, so a route that let it through would change something
    (and the assertions after say nothing did). A route without ids (a list) may answer, but shows none of them.
    """
    db = journey["db"]
    values = _the_shelters_ids(db, found, case, candidate, import_id)
    session, token = _signed_in(journey["url"], "hari", PASSWORD)
    tried = []
    for rule in _guarded_rules(journey):
        arguments = sorted(rule.arguments)
        unknown = [name for name in arguments if name not in values]
        assert not unknown, f"{rule.rule}: give this test one of the shelter's values for {unknown}"
        for method in sorted(rule.methods & {"GET", "POST"}):
            if not arguments and method == "POST":
                continue  # a list's POST makes the caller's own record, nothing of the shelter's
            for chosen in itertools.product(*(values[name] for name in arguments)):
                path = rule.build(dict(zip(arguments, chosen, strict=True)), append_unknown=False)[1]
                status, body = _ask(session, journey["url"] + path, method, token)
                tried.append((method, path, status))
                if arguments:
                    assert status in (403, 404), f"{method} {path} answered {status} to another organisation"
                else:
                    assert status in (200, 403), f"{method} {path} answered {status}"
                    leaked = [shown for shown in (found, case, str(candidate), str(import_id)) if shown in body]
                    assert not leaked, f"{method} {path} shows the shelter's {leaked}"
    assert {p for _, p, _ in tried} >= {f"/found/{found}", f"/candidates/{candidate}", f"/found/imports/{import_id}"}
    assert db.candidates.find_one({"_id": candidate}).get("outcome") is None
    assert db.found_persons.find_one({"reference": found})["status"] == "open"
    assert db.cases.find_one({"reference": case})["status"] == "open"


def _the_shelters_ids(
    db: Database, found: str, case: str, candidate: ObjectId, import_id: ObjectId
) -> dict[str, list[str]]:
    """Each url_map argument's values among the shelter's records (a reference may name a found person or a case)."""
    photo = db.photos.find_one({"owner.kind": "found", "owner.id": found})
    faces = [
        db.faces.find_one({"owner.kind": kind, "owner.id": owner}) for kind, owner in (("found", found), ("case", case))
    ]
    return {
        "reference": [found, case],
        "candidate_id": [str(candidate)],
        "photo_id": [str(photo["_id"])],
        "import_id": [str(import_id)],
        "face_id": [str(face["_id"]) for face in faces],
    }


def _guarded_rules(journey: dict[str, Any]) -> list[Any]:
    """The web process's own routes (the same app factory), those of a shelter's records and what follows them."""
    app = create_app(journey["settings"], journey["connections"])
    return [rule for rule in app.url_map.iter_rules() if rule.rule.startswith(GUARDED_PREFIXES)]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 302 is an answer here (a POST that went through), not a page to follow


class _Loopback(http.cookiejar.DefaultCookiePolicy):
    def return_ok_secure(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        return True  # the session cookie is Secure (PUBLIC_BASE_URL is https); loopback is private, as browsers agree


def _signed_in(url: str, username: str, password: str) -> tuple[urllib.request.OpenerDirector, str]:
    """A session of `username` outside the browser (quicker for many requests), and its CSRF token."""
    jar = http.cookiejar.CookieJar(_Loopback())
    session = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirects())
    status, page = _ask(session, f"{url}/login", "GET", "")
    form = {"csrf_token": _token(page), "username": username, "password": password}
    status, _ = _ask(session, f"{url}/login", "POST", "", form)
    assert status == 302, f"{username} could not log in ({status})"
    status, page = _ask(session, f"{url}/users/password", "GET", "")
    assert status == 200
    return session, _token(page)


def _ask(
    session: urllib.request.OpenerDirector, url: str, method: str, token: str, form: dict[str, str] | None = None
) -> tuple[int, str]:
    """The status and page of one request; a POST carries a valid CSRF token and every field a route reads."""
    data = None
    if method == "POST":
        form = form or {"csrf_token": token, "outcome": "reunited", "reason": "reunited", "action": "approve"}
        data = urllib.parse.urlencode(form).encode()
    try:
        with session.open(urllib.request.Request(url, data=data, method=method), timeout=20) as answer:
            return int(answer.status), answer.read().decode(errors="replace")
    except urllib.error.HTTPError as refused:
        return int(refused.code), html.unescape(refused.read().decode(errors="replace"))


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)
