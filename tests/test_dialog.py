"""The conversation as pure decisions: consent first, wrong answers re-asked, commands anywhere."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime

import pytest

from core.conversation import catalog
from core.conversation.catalog.en import MESSAGES
from core.conversation.dialog import step
from core.conversation.messages import Attachment, Inbound, Location
from core.conversation.references import ALPHABET, find_reference, make_reference
from core.conversation.state import (
    CaseSummary,
    CloseCase,
    Context,
    CreateCase,
    CreateSighting,
    DiscardDraft,
    Outcome,
    State,
    StorePhoto,
)
from core.conversation.when import parse_when

NOW = datetime(2026, 11, 22, 14, 30, tzinfo=UTC)
CASE = CaseSummary("HW-7K3P", "Ana Lopez", "open", "20 Nov 2026", 2)


class Person:
    """Feeds messages to the dialog and remembers its state, as the worker does."""

    def __init__(self, consent: bool = True, cases: tuple[CaseSummary, ...] = (), photo_place: bool = False) -> None:
        self.state = State(consent=consent, asked_consent=consent)
        self.context = Context(now=NOW, cases=cases, photo_place=photo_place)
        self.count = 0

    def says(
        self, text: str = "", photo: bool = False, location: Location | None = None, kind: str = "photo"
    ) -> Outcome:
        self.count += 1
        attachments = (Attachment(kind, f"file-{self.count}", "image/jpeg"),) if photo else ()
        outcome = step(self.state, Inbound("telegram", "7", str(self.count), text, attachments, location), self.context)
        self.state = outcome.state
        return outcome


def keys(outcome: Outcome) -> list[str]:
    return [reply.key for reply in outcome.replies]


def test_nothing_is_stored_before_consent() -> None:
    person = Person(consent=False)
    first = person.says(photo=True)
    assert keys(first) == ["welcome", "photo_again_after_consent"] and first.effects == []
    assert keys(person.says("maybe")) == ["consent_reask"]
    assert keys(person.says("no")) == ["consent_declined"] and not person.state.consent
    assert keys(person.says("hi")) == ["welcome"]
    agreed = person.says("Yes!")
    assert keys(agreed) == ["consent_thanks", "menu"] and person.state.consent


def test_a_whole_report_with_wrong_answers_asked_again() -> None:
    person = Person()
    answers = [
        ("report", "ask_name"),
        ("J", "ask_name_hint"),
        ("Ana Lopez", "ask_age"),
        ("seven and a half", "ask_age_hint"),
        ("7", "ask_gender"),
        ("skip", "ask_place"),
        ("?", "ask_place_hint"),
        ("Retiro park", "ask_time"),
        ("yesterday 5pm", "ask_description"),
        ("red coat", "ask_photos"),
        ("done", "photos_needed"),
        ("what now", "ask_photos_hint"),
    ]
    for text, expected in answers:
        assert keys(person.says(text))[-1] == expected, text
    stored = person.says(photo=True)
    assert (
        isinstance(stored.effects[0], StorePhoto)
        and stored.effects[0].purpose == "case"
        and stored.effects[0].name == "Ana Lopez"
    )
    assert keys(person.says("done")) == ["summary"]
    created = person.says("yes")
    assert keys(created) == ["case_created"] and person.state.flow is None
    details = created.effects[0].details  # type: ignore[union-attr]
    assert isinstance(created.effects[0], CreateCase)
    assert details["age"] == 7 and details["gender"] is None and details["place"] == {"text": "Retiro park"}
    assert details["time"] == datetime(2026, 11, 21, 17, 0, tzinfo=UTC) and details["time_text"] == "yesterday 5pm"


def test_at_most_five_photos_are_taken() -> None:
    person = Person()
    for text in ("report", "Ana", "unknown", "skip", "Madrid", "today", "skip"):
        person.says(text)
    for _ in range(5):
        person.says(photo=True)
    sixth = person.says(photo=True)
    assert sixth.effects == [] and "photos_full" in keys(sixth)


def test_a_photo_outside_any_flow_starts_a_sighting_with_a_shared_location() -> None:
    person = Person()
    assert keys(person.says(photo=True)) == ["sighting_ask_place"]
    assert keys(person.says(location=Location(40.41, -3.70, "Sol"))) == ["sighting_ask_time"]
    person.says("now")
    done = person.says("skip")
    assert keys(done) == ["sighting_created"]
    assert done.effects[0].details["place"] == {"text": "Sol", "latitude": 40.41, "longitude": -3.70}  # type: ignore[union-attr]
    assert done.effects[0].details["time"] == NOW  # type: ignore[union-attr]


def test_a_photos_gps_place_is_offered_and_a_no_keeps_it_out_of_the_sighting() -> None:
    person = Person(photo_place=True)  # the stored draft photo carries a GPS place
    person.says(photo=True)
    person.says("Leeds station")
    person.says("now")
    assert keys(person.says("skip")) == ["sighting_ask_photo_place"]
    assert keys(person.says("maybe")) == ["sighting_ask_photo_place"]  # asked again: only yes or no will do
    done = person.says("no")
    assert keys(done) == ["sighting_created"]
    assert done.effects == [CreateSighting(done.effects[0].details, use_photo_place=False)]  # type: ignore[union-attr]
    assert done.effects[0].details["place"] == {"text": "Leeds station"}  # type: ignore[union-attr]


@pytest.mark.parametrize(("answer", "used"), [("yes", True), ("हाँ", True), ("नहीं", False)])
def test_the_photos_gps_place_is_used_only_after_a_yes(answer: str, used: bool) -> None:
    person = Person(photo_place=True)
    for message in ({"photo": True}, {"text": "Leeds station"}, {"text": "now"}, {"text": "skip"}):
        person.says(**message)  # type: ignore[arg-type]
    done = person.says(answer)
    assert [e.use_photo_place for e in done.effects if isinstance(e, CreateSighting)] == [used]


def test_no_gps_question_when_the_sender_shared_a_location_or_no_photo_had_one() -> None:
    for person, where in ((Person(photo_place=True), Location(40.41, -3.70, "Sol")), (Person(), None)):
        person.says(photo=True)
        person.says("Sol" if where is None else "", location=where)
        person.says("now")
        done = person.says("skip")
        assert keys(done) == ["sighting_created"]
        assert [e.use_photo_place for e in done.effects if isinstance(e, CreateSighting)] == [False]


def test_help_mid_flow_shows_the_menu_and_keeps_the_report() -> None:
    person = Person()
    person.says("report")
    person.says("Ana Lopez")
    assert keys(person.says("help")) == ["menu", "menu_in_flow"]
    assert person.state.step == "age" and person.state.draft["name"] == "Ana Lopez"


def test_cancel_discards_the_draft() -> None:
    person = Person()
    person.says("report")
    cancelled = person.says("cancel")
    assert keys(cancelled) == ["cancelled"] and cancelled.effects == [DiscardDraft()] and person.state.flow is None
    assert keys(person.says("cancel")) == ["nothing_to_cancel"]


def test_case_commands_only_reach_the_contacts_own_cases() -> None:
    person = Person(cases=(CASE,))
    assert keys(person.says("3")) == ["cases_list"]
    assert keys(person.says("status hw 7k3p")) == ["case_status"]
    assert keys(person.says("status HW-2222")) == ["case_unknown"]
    assert keys(person.says("found")) == ["need_reference"]
    found = person.says("found HW-7K3P")
    assert keys(found) == ["case_closed"] and found.effects == [CloseCase("HW-7K3P")]
    assert keys(person.says("add photo HW-7K3P")) == ["add_photo_ask"]
    added = person.says(photo=True)
    assert added.effects[0].case_reference == "HW-7K3P"  # type: ignore[union-attr]
    assert keys(person.says("done")) == ["add_photo_done"]


def test_voice_files_huge_files_and_videos_for_a_report_are_refused_without_storing() -> None:
    person = Person()
    for kind, key in (
        ("audio", "unsupported_audio"),
        ("document", "unsupported_document"),
    ):
        outcome = person.says(photo=True, kind=kind)
        assert keys(outcome) == [key] and outcome.effects == []
    person.says("report")
    outcome = person.says(photo=True, kind="video")
    assert keys(outcome) == ["video_case_refused"] and outcome.effects == []  # families send photos
    person.says("cancel")
    big = step(
        person.state,
        Inbound("telegram", "7", "x", "", (Attachment("photo", "f", "image/jpeg", 40 * 2**20),)),
        person.context,
    )
    assert keys(big) == ["file_too_large"] and big.effects == []


def test_a_video_sent_outside_any_flow_starts_a_sighting() -> None:
    person = Person()
    outcome = person.says(photo=True, kind="video")
    assert keys(outcome) == ["sighting_ask_place"] and person.state.flow == "sighting"
    assert [type(e).__name__ for e in outcome.effects] == ["StorePhoto"]
    assert outcome.effects[0].purpose == "sighting"  # type: ignore[union-attr]


def test_delete_my_data_asks_first() -> None:
    person = Person()
    assert keys(person.says("delete my data")) == ["erase_confirm"]
    assert keys(person.says("what?")) == ["erase_hint"]
    erased = person.says("delete")
    assert keys(erased) == ["erased"] and type(erased.effects[0]).__name__ == "EraseContact"


@pytest.mark.parametrize(
    ("said", "meant"),
    [
        ("yesterday 5pm", datetime(2026, 11, 21, 17, 0)),
        ("12/11", datetime(2026, 11, 12, 12, 0)),
        ("2 days ago", datetime(2026, 11, 20, 14, 30)),
        ("an hour ago", datetime(2026, 11, 22, 13, 30)),
        ("last night", datetime(2026, 11, 21, 22, 0)),
        ("17:45", datetime(2026, 11, 21, 17, 45)),
        ("31/12", datetime(2025, 12, 31, 12, 0)),
        ("near the old bridge", None),
        ("today 3pm", None),
    ],
)
def test_when_is_parsed_or_left_as_said(said: str, meant: datetime | None) -> None:
    parsed = parse_when(said, NOW)
    assert (parsed.replace(tzinfo=None) if parsed else None) == meant


def test_references_are_short_and_unambiguous() -> None:
    reference = make_reference("HW", bytes([0, 7, 29, 250]))
    assert re.fullmatch(r"HW-[0-9A-Z]{4}", reference)
    assert not set("01ILOU") & set(ALPHABET)
    assert find_reference("is there news on hw 7k3p?") == "HW-7K3P" and find_reference("SG-2345 please") is None


def test_every_catalogue_placeholder_is_filled_by_the_dialog_params() -> None:
    """Render each message with dummy values: a translation must keep the same placeholders."""
    for key, template in MESSAGES.items():
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        assert catalog.text(key, **{name: "x" for name in names})


def _reach_step(person: Person, step_name: str) -> None:
    """Answer the report's questions up to `step_name` (a report with the name Ana Lopez)."""
    for text in ("report", "Ana Lopez", "30", "skip", "Madrid", "yesterday"):
        person.says(text)
        if person.state.step == step_name:
            break
    assert person.state.step == step_name


@pytest.mark.parametrize("said", ["²", "①", "⑫", "½", "4²", "-5", "121", "99999", "0" * 5000, "1e3"])
def test_odd_ages_are_asked_again(said: str) -> None:
    person = Person()
    _reach_step(person, "age")
    assert keys(person.says(said)) == ["ask_age_hint"] and person.state.step == "age"


@pytest.mark.parametrize(("said", "age"), [("४५", 45), ("٤٥ years", 45), ("４５", 45), ("7 years old", 7), ("0", 0)])
def test_ages_in_any_scripts_digits_are_accepted(said: str, age: int) -> None:
    person = Person()
    _reach_step(person, "age")
    assert keys(person.says(said)) == ["ask_gender"] and person.state.draft["age"] == age


@pytest.mark.parametrize(
    "said", ["1000000 days ago", "99999999999 years ago", "121 years ago", "1/1/0001", "9" * 40 + " weeks ago"]
)
def test_times_too_long_ago_are_asked_again_in_reports_and_sightings(said: str) -> None:
    person = Person()
    _reach_step(person, "time")
    assert keys(person.says(said)) == ["time_too_long_ago"] and person.state.step == "time"
    assert keys(person.says("2 years ago")) == ["ask_description"]
    assert person.state.draft["time"] == datetime(2024, 11, 22, 14, 30, tzinfo=UTC)
    person = Person()
    person.says(photo=True)
    person.says("Sol")
    assert keys(person.says(said)) == ["time_too_long_ago"] and person.state.step == "time"


def test_impossible_calendar_dates_are_left_as_said() -> None:
    assert parse_when("29/2/2028", NOW) is None  # a year ahead has no 29 February a year before
    naive_now = NOW.replace(tzinfo=None)  # an aware time in the text is not compared with a naive now
    assert parse_when("12/11/2026 10:00 +01:00", naive_now) == datetime(2026, 11, 12, 10, 0)
    assert parse_when("٣ days ago", NOW) == datetime(2026, 11, 19, 14, 30, tzinfo=UTC)


def test_a_very_long_description_is_kept_shortened_and_the_reply_says_so() -> None:
    person = Person()
    _reach_step(person, "description")
    outcome = person.says("tall " * 20_000)
    assert keys(outcome) == ["text_shortened", "ask_photos"]
    assert catalog.render(outcome.replies[0]) == "That was long, so I kept the first 1000 characters."
    assert len(person.state.draft["description"]) <= 1000 and person.state.draft["description"].startswith("tall tall")


def test_a_name_too_long_gets_its_own_hint_and_control_characters_are_dropped() -> None:
    person = Person()
    person.says("report")
    assert keys(person.says("A" * 100_000)) == ["ask_name_too_long"]
    assert keys(person.says("Ana\x00 Lo\x1bpez\ud800")) == ["ask_age"] and person.state.draft["name"] == "Ana Lopez"


BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def test_bidirectional_controls_typed_in_a_name_do_not_reverse_later_questions_or_the_stored_case() -> None:
    person = Person()
    person.says("report")
    asked = person.says("\u202eRavi\u2066 Kumar\u200f")
    assert catalog.render(asked.replies[0]) == "How old is Ravi Kumar? Reply with a number, or 'unknown'."
    for text in ("30", "skip", "\u202bMadrid\u202c", "yesterday", "red \u061ccoat\u2069"):
        person.says(text)
    person.says(photo=True)
    summary = catalog.render(person.says("done").replies[0])
    created = person.says("yes").effects[0]
    assert isinstance(created, CreateCase) and created.details["name"] == "Ravi Kumar"
    shown = summary + repr(created.details)
    assert not set(BIDI_CONTROLS) & set(shown) and "Madrid" in summary and "red coat" in summary


def test_a_location_with_garbled_coordinates_falls_back_to_its_address_or_asks_again() -> None:
    person = Person()
    person.says(photo=True)
    assert keys(person.says(location=Location(float("nan"), 3.7))) == ["ask_place_hint"]
    assert person.state.step == "place"
    assert keys(person.says(location=Location(200.0, float("inf"), "Plaza Mayor"))) == ["sighting_ask_time"]
    assert person.state.draft["place"] == {"text": "Plaza Mayor"}


def test_user_text_with_braces_is_shown_as_typed() -> None:
    person = Person()
    for text in ("report", "Ana {0} {name} {", "unknown", "{gender}", "Plaza {1}", "skip", "skip"):
        person.says(text)
    person.says(photo=True)
    summary = person.says("done")
    rendered = catalog.render(summary.replies[0])
    assert "Name: Ana {0} {name} {" in rendered and "Gender: {gender}" in rendered
    assert "Last seen: Plaza {1}," in rendered


def test_files_of_unknown_kinds_and_absurd_sizes_are_refused() -> None:
    person = Person()
    assert keys(person.says(photo=True, kind="contact_card")) == ["unsupported_document"]
    absurd = Attachment("photo", "f", "", 10**400)
    huge = step(person.state, Inbound("telegram", "7", "x", "", (absurd,)), person.context)
    assert keys(huge) == ["file_too_large"] and "MB" in catalog.render(huge.replies[0])


def test_before_consent_delete_my_data_erases_and_cancel_declines() -> None:
    person = Person(consent=False)
    person.says("hi")
    erased = person.says("delete my data")
    assert keys(erased) == ["erased"] and type(erased.effects[0]).__name__ == "EraseContact"
    person.says("hi")
    assert keys(person.says("cancel")) == ["consent_declined"] and not person.state.consent


def test_a_stored_state_from_an_older_version_goes_back_to_the_menu() -> None:
    person = Person()
    person.state = State(consent=True, asked_consent=True, flow="report", step="mood", draft={"name": "Ana"})
    assert keys(person.says("1")) == ["ask_name"]
    person.state = State(consent=True, asked_consent=True, flow="add_photo", step="photos", draft={})
    assert keys(person.says("done")) == ["not_understood", "menu"] and person.state.flow is None
