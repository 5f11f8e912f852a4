"""Volunteers near the last-seen place: opt in by chat, alerted of an approved appeal inside their radius only
(not outside, not in quiet hours, not over their weekly cap), `stop` ends it at once, erasure removes them."""

from __future__ import annotations

import math
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rq.registry import ScheduledJobRegistry

from config import Settings
from core.appeals.place import appeal_place
from core.cities import CITIES, named_city
from core.places import haversine_km
from core.volunteers import RADII_KM, area_cells, cell, in_quiet_hours
from services.queue import VOLUNTEERS_QUEUE
from services.volunteers import alert
from standins.telegram_api import TelegramStandIn
from storage.connections import Connections
from storage.users import create_user
from tests import test_appeals
from tests.chat_harness import Harness
from tests.test_admin_access import login
from tests.test_appeals import decide
from tests.test_query_plans import Filters, recorded, whole_scans  # noqa: F401 - recorded is a fixture
from tests.test_telegram import chat, photo
from workers.reconciler import reconcile

FAMILY, NEAR, CITY, FAR, QUIET, CAPPED, STOPPED = 4101, 4202, 4303, 4404, 4505, 4606, 4707
BOT = "homeward_test_bot"
LAST_SEEN = {"latitude": 28.6139, "longitude": 77.2090}  # central Delhi
ONE_KM_NORTH = {"latitude": 28.6229, "longitude": 77.2090}
environment, harness = test_appeals.environment, test_appeals.harness  # fixtures: Telegram, queries recorded


def report_at(harness: Harness, bot_api: TelegramStandIn, faces_dir: Path) -> str:
    """A case whose last-seen place was shared as a location."""
    bot_api.add_file("face", (faces_dir / "lfw/Aaron_Eckhart/Aaron_Eckhart_0001.jpg").read_bytes())
    chat(harness, FAMILY, "/start", "yes", "1", "Aaron Eckhart", "41", "skip", {"location": LAST_SEEN})
    chat(harness, FAMILY, "yesterday 5pm", "grey jacket", photo("face"), "done", "yes")
    return re.search(r"reference is (HW-[0-9A-Z]{4})", bot_api.texts(FAMILY)[-1]).group(1)  # type: ignore[union-attr]


def approved_appeal(harness: Harness, bot_api: TelegramStandIn, case: str) -> str:
    chat(harness, FAMILY, f"appeal {case}", "yes", "1", "yes", "yes", "skip", "yes")
    appeal = re.search(r"appeal (AP-[0-9A-Z]{4}) is waiting", bot_api.texts(FAMILY)[-1]).group(1)  # type: ignore[union-attr]
    decide(harness, appeal, "approve", "Checked with the family")
    return appeal


def volunteer(
    harness: Harness, chat_id: int, where: str | dict, radius: str, quiet: str = "none", cap: str = "skip"
) -> None:
    where_message = {"location": where} if isinstance(where, dict) else where
    chat(harness, chat_id, "hi", "yes", "volunteer", where_message, radius, quiet, cap)


def alerts_to(bot_api: TelegramStandIn, chat_id: int) -> list[dict]:
    return [m for m in bot_api.sent if int(m["chat_id"]) == chat_id and m["method"] == "sendPhoto"]


def awake_now(settings: Settings) -> str:
    """Quiet hours that hold the present hour, in the service's time zone."""
    hour = datetime.now(ZoneInfo(settings.timezone)).hour
    return f"{hour}-{(hour + 2) % 24}"


def test_an_approved_appeal_reaches_volunteers_inside_their_radius_only(
    harness: Harness,
    bot_api: TelegramStandIn,
    faces_dir: Path,
    settings: Settings,
    recorded: tuple[Filters, Connections],  # noqa: F811
) -> None:
    case = report_at(harness, bot_api, faces_dir)
    volunteer(harness, NEAR, ONE_KM_NORTH, "2")
    assert "within 2 km" in bot_api.texts(NEAR)[-1] and "'stop'" in bot_api.texts(NEAR)[-1]
    chat(harness, CITY, "hi", "yes", "भाषा", "volunteer", "Atlantis")
    assert "share your location instead" not in bot_api.texts(CITY)[-1]  # in Hindi now
    chat(harness, CITY, "दिल्ली", "10", "none", "skip")
    volunteer(harness, FAR, "Mumbai", "50")
    volunteer(harness, QUIET, ONE_KM_NORTH, "10", quiet=awake_now(settings))
    volunteer(harness, CAPPED, ONE_KM_NORTH, "10", cap="1")
    week_ago = datetime.now(UTC) - timedelta(days=2)
    harness.db.volunteers.update_one(
        {"contact": f"telegram:{CAPPED}"}, {"$set": {"alerts": [{"appeal": "AP-OLD1", "at": week_ago}]}}
    )
    appeal = approved_appeal(harness, bot_api, case)

    token = harness.db.appeals.find_one({"reference": appeal})["token"]
    near = alerts_to(bot_api, NEAR)
    assert len(near) == 1 and "Aaron is missing" in near[0]["caption"] and f"/a/{token}" in near[0]["caption"]
    assert near[0]["photo_data"].startswith(b"\x89PNG")  # the phone poster
    city = alerts_to(bot_api, CITY)
    assert len(city) == 1 and "लापता" in city[0]["caption"]
    for chat_id in (FAR, QUIET, CAPPED):
        assert alerts_to(bot_api, chat_id) == []
    page = harness.client.get(f"/appeals/{appeal}").get_data(as_text=True)
    assert "Sent to 2 volunteers near the last-seen place; 1 in their quiet hours" in page
    assert "1 at their weekly limit" in page
    later = ScheduledJobRegistry(VOLUNTEERS_QUEUE, connection=harness.worker.connection).get_job_ids()
    assert [job for job in later if job.startswith(f"alert-volunteers-{appeal}-")]  # when their quiet hours end

    alert(harness.db, harness.context.queue, appeal, harness.context.settings)  # a second run alerts nobody twice
    harness.work()
    assert len(alerts_to(bot_api, NEAR)) == 1 and len(alerts_to(bot_api, CITY)) == 1
    assert not [scan for scan in whole_scans(harness, recorded[0]) if scan.startswith("volunteers")]


def test_a_typed_place_reaches_the_volunteers_of_the_city_the_reviewer_chose(
    harness: Harness, bot_api: TelegramStandIn, faces_dir: Path
) -> None:
    case = test_appeals.report(harness, bot_api, faces_dir, FAMILY)  # last seen at "Old market": typed
    volunteer(harness, NEAR, "Delhi", "10")
    volunteer(harness, FAR, "Mumbai", "50")
    chat(harness, FAMILY, f"appeal {case}", "yes", "1", "yes", "yes", "skip", "yes")
    appeal = re.search(r"appeal (AP-[0-9A-Z]{4}) is waiting", bot_api.texts(FAMILY)[-1]).group(1)  # type: ignore[union-attr]
    create_user(harness.db, "rita", "a-long-reviewer-password", "reviewer")
    token = login(harness.client, "rita", "a-long-reviewer-password")
    page = harness.client.get(f"/appeals/{appeal}").get_data(as_text=True)
    assert '<option value="none" selected>none: alert no volunteers</option>' in page  # "Old market" names no city
    assert '<option value="delhi">Delhi</option>' in page and '<option value="bombay">' not in page  # one per city
    form = {"decision": "approve", "reason": "Checked with the family", "csrf_token": token}
    harness.client.post(f"/appeals/{appeal}/decide", data=form | {"city": "atlantis"})
    assert harness.db.appeals.find_one({"reference": appeal})["status"] == "requested"  # not a bundled city
    assert "not one of the bundled cities" in harness.client.get(f"/appeals/{appeal}").get_data(as_text=True)

    harness.client.post(f"/appeals/{appeal}/decide", data=form | {"city": "delhi"})
    harness.work()
    assert len(alerts_to(bot_api, NEAR)) == 1 and alerts_to(bot_api, FAR) == []
    assert harness.db.appeals.find_one({"reference": appeal})["city"] == "delhi"
    page = harness.client.get(f"/appeals/{appeal}").get_data(as_text=True)
    assert "appeal approved (Checked with the family; volunteers near Delhi)" in page  # the audit log
    assert "volunteers near Delhi get the appeal" in page and "Sent to 1 volunteer near" in page


def test_a_typed_place_names_its_city_and_a_shared_location_needs_none() -> None:
    assert named_city("Old market, Delhi") == "delhi" and named_city("New Delhi railway station") == "delhi"
    assert named_city("पुरानी दिल्ली") == "delhi" and named_city("Bombay Central") == "mumbai"
    assert named_city("Old market") is None and named_city("Delhiwala dhaba") is None
    typed, shared = {"place": {"text": "Old market"}}, {"place": {"text": "", **ONE_KM_NORTH}}
    assert appeal_place(typed, {"city": "mumbai"}) == CITIES["mumbai"]
    assert appeal_place(typed, {"city": ""}) is None and appeal_place(typed, {}) is None
    assert appeal_place(shared, {"city": "mumbai"}) == (28.6229, 77.2090)  # where the family shared it


def test_a_typed_unknown_place_is_asked_for_a_location(harness: Harness, bot_api: TelegramStandIn) -> None:
    chat(harness, NEAR, "hi", "yes", "volunteer", "Old market")
    assert "Please share your location instead" in bot_api.texts(NEAR)[-1]
    chat(harness, NEAR, "Pune", "7")
    assert "Reply 2, 10 or 50" in bot_api.texts(NEAR)[-1]
    assert harness.db.volunteers.count_documents({}) == 0  # nothing kept before the last answer


def test_stop_in_the_middle_of_a_delivery_sends_nothing_more_and_erasure_removes_the_volunteer(
    harness: Harness, bot_api: TelegramStandIn, faces_dir: Path
) -> None:
    appeal = approved_appeal(harness, bot_api, report_at(harness, bot_api, faces_dir))  # nobody to alert yet
    volunteer(harness, NEAR, ONE_KM_NORTH, "2")
    volunteer(harness, STOPPED, ONE_KM_NORTH, "10")
    stored = harness.db.volunteers.find_one({"contact": f"telegram:{NEAR}"})
    assert "latitude" not in stored["place"] and "sealed" in stored["place"]  # sealed like other places
    # The alerts are queued (as the job does), then a volunteer says stop before theirs is sent.
    alert(harness.db, harness.context.queue, appeal, harness.context.settings)
    chat(harness, STOPPED, "stop")  # the chat lane goes first: the stop is answered before the alerts are sent
    assert "you will get no more alerts" in bot_api.texts(STOPPED)[-1]
    assert alerts_to(bot_api, STOPPED) == [] and len(alerts_to(bot_api, NEAR)) == 1
    assert harness.db.volunteers.count_documents({"contact": f"telegram:{STOPPED}"}) == 0
    chat(harness, STOPPED, "stop")
    assert "You get no alerts from Homeward" in bot_api.texts(STOPPED)[-1]

    chat(harness, NEAR, "delete my data", "yes")
    assert harness.db.volunteers.count_documents({}) == 0
    assert harness.traces_of(f"telegram:{NEAR}", []) == {}


def test_the_familys_erasure_empties_the_alerts_sent_and_drops_those_waiting(
    harness: Harness,
    bot_api: TelegramStandIn,
    faces_dir: Path,
    recorded: tuple[Filters, Connections],  # noqa: F811
) -> None:
    case = report_at(harness, bot_api, faces_dir)
    volunteer(harness, NEAR, ONE_KM_NORTH, "2")
    appeal = approved_appeal(harness, bot_api, case)
    assert len(alerts_to(bot_api, NEAR)) == 1  # sent: "Aaron is missing…"
    volunteer(harness, CITY, "Delhi", "10")
    chat(harness, FAMILY, "delete my data")
    alert(harness.db, harness.context.queue, appeal, harness.context.settings)  # queued, not yet sent
    assert harness.db.outbox.count_documents({"contact": f"telegram:{CITY}", "status": "pending", "about": case}) == 1
    chat(harness, FAMILY, "yes")  # the chat lane goes first: erased before the alert is sent
    assert alerts_to(bot_api, CITY) == []
    assert harness.db.outbox.count_documents({"contact": f"telegram:{CITY}", "about": case}) == 0
    sent = harness.db.outbox.find_one({"contact": f"telegram:{NEAR}", "about": case})
    assert sent["status"] == "sent" and sent["text"] == "" and "poster" not in sent
    assert not [m for m in harness.db.outbox.find() if "Aaron" in m["text"]]
    assert not [scan for scan in whole_scans(harness, recorded[0]) if scan.startswith('outbox: {"about": {"$in"')]


def test_an_area_holds_the_cell_of_every_place_inside_its_radius() -> None:
    """The selection's index lookup never misses a volunteer in range: anywhere, at every radius."""
    rng = random.Random(28)
    for _ in range(3000):
        radius = rng.choice(RADII_KM)
        home = (rng.uniform(-85, 85), rng.uniform(-180, 180))
        if rng.random() < 0.2:
            home = (home[0], rng.choice([-179.99, 179.99]))  # across the antimeridian
        bearing, distance = rng.uniform(0, 360), rng.uniform(0, radius * 0.999)
        place = _moved(home, bearing, distance)
        assert haversine_km(home, place) <= radius
        assert cell(*place, radius) in area_cells(*home, radius), (home, place, radius)
    assert len(area_cells(28.6, 77.2, 50)) <= 9 and len(area_cells(28.6, 77.2, 2)) <= 9


def test_quiet_hours_across_midnight() -> None:
    at = datetime(2026, 1, 1, 23, 30)
    assert in_quiet_hours((22, 7), at) and in_quiet_hours((22, 7), at.replace(hour=6))
    assert not in_quiet_hours((22, 7), at.replace(hour=7)) and not in_quiet_hours((0, 0), at)
    assert in_quiet_hours((1, 5), at.replace(hour=3)) and not in_quiet_hours((1, 5), at)


def _moved(start: tuple[float, float], bearing: float, km: float) -> tuple[float, float]:
    lat1, lon1, b, d = math.radians(start[0]), math.radians(start[1]), math.radians(bearing), km / 6371.0088
    lat2 = math.asin(math.sin(lat1) * math.cos(d) + math.cos(lat1) * math.sin(d) * math.cos(b))
    lon2 = lon1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(lat1), math.cos(d) - math.sin(lat1) * math.sin(lat2))
    return math.degrees(lat2), (math.degrees(lon2) + 540) % 360 - 180


def test_a_selection_lost_in_a_crash_is_queued_again_by_the_reconciler(
    harness: Harness, bot_api: TelegramStandIn, faces_dir: Path
) -> None:
    case = report_at(harness, bot_api, faces_dir)
    volunteer(harness, NEAR, ONE_KM_NORTH, "2")
    appeal = approved_appeal(harness, bot_api, case)
    assert len(alerts_to(bot_api, NEAR)) == 1
    assert harness.db.appeals.find_one({"reference": appeal})["volunteers_due"] is False
    reconcile(harness.context, datetime.now(UTC) + timedelta(hours=1))
    harness.work()
    assert len(alerts_to(bot_api, NEAR)) == 1  # nothing due: nothing again
    # As if the worker died after the family had its posters, before any volunteer was chosen.
    harness.db.appeals.update_one(
        {"reference": appeal}, {"$set": {"volunteers_due": True}, "$unset": {"volunteers": 1}}
    )
    harness.db.volunteers.update_one({"contact": f"telegram:{NEAR}"}, {"$set": {"alerts": []}})
    harness.db.outbox.delete_many({"contact": f"telegram:{NEAR}", "about": case})
    reconcile(harness.context, datetime.now(UTC) + timedelta(hours=1))
    harness.work()
    assert len(alerts_to(bot_api, NEAR)) == 2
    assert harness.db.appeals.find_one({"reference": appeal})["volunteers"]["alerted"] == 1


def test_an_appeal_taken_down_before_its_alerts_went_out_sends_them_no_more(
    harness: Harness, bot_api: TelegramStandIn, faces_dir: Path
) -> None:
    appeal = approved_appeal(harness, bot_api, report_at(harness, bot_api, faces_dir))
    volunteer(harness, NEAR, ONE_KM_NORTH, "2")
    alert(harness.db, harness.context.queue, appeal, harness.context.settings)  # queued, not yet sent
    chat(harness, FAMILY, "withdraw appeal")  # the chat lane goes first
    assert alerts_to(bot_api, NEAR) == [] and "Aaron" not in " ".join(bot_api.texts(NEAR))
    assert harness.db.outbox.count_documents({"contact": f"telegram:{NEAR}", "about": {"$exists": True}}) == 0
