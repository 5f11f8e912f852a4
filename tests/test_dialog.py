"""The conversation as pure decisions: consent first, wrong answers re-asked, commands anywhere."""
from __future__ import annotations

import re
import string
from datetime import datetime, timezone

import pytest

from core.conversation import catalog
from core.conversation.catalog.en import MESSAGES
from core.conversation.messages import Attachment, Inbound, Location
from core.conversation.state import CaseSummary, CloseCase, Context, CreateCase, DiscardDraft, Outcome, State, StorePhoto
from core.conversation.dialog import step
from core.conversation.references import ALPHABET, find_reference, make_reference
from core.conversation.when import parse_when

NOW = datetime(2026, 11, 22, 14, 30, tzinfo=timezone.utc)
CASE = CaseSummary("HW-7K3P", "Ana Lopez", "open", "20 Nov 2026", 2)


class Person:
    """Feeds messages to the dialog and remembers its state, as the worker does."""

    def __init__(self, consent: bool = True, cases: tuple[CaseSummary, ...] = ()) -> None:
        self.state = State(consent=consent, asked_consent=consent)
        self.context = Context(now=NOW, cases=cases)
        self.count = 0

    def says(self, text: str = "", photo: bool = False, location: Location | None = None, kind: str = "photo") -> Outcome:
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
    answers = [("report", "ask_name"), ("J", "ask_name_hint"), ("Ana Lopez", "ask_age"), ("seven and a half", "ask_age_hint"),
               ("7", "ask_gender"), ("skip", "ask_place"), ("?", "ask_place_hint"), ("Retiro park", "ask_time"),
               ("yesterday 5pm", "ask_description"), ("red coat", "ask_photos"), ("done", "photos_needed"), ("what now", "ask_photos_hint")]  # fmt: skip
    for text, expected in answers:
        assert keys(person.says(text))[-1] == expected, text
    stored = person.says(photo=True)
    assert isinstance(stored.effects[0], StorePhoto) and stored.effects[0].purpose == "case" and stored.effects[0].name == "Ana Lopez"
    assert keys(person.says("done")) == ["summary"]
    created = person.says("yes")
    assert keys(created) == ["case_created"] and person.state.flow is None
    details = created.effects[0].details  # type: ignore[union-attr]
    assert isinstance(created.effects[0], CreateCase)
    assert details["age"] == 7 and details["gender"] is None and details["place"] == {"text": "Retiro park"}
    assert details["time"] == datetime(2026, 11, 21, 17, 0, tzinfo=timezone.utc) and details["time_text"] == "yesterday 5pm"


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


def test_videos_voice_and_huge_files_are_refused_without_storing() -> None:
    person = Person()
    for kind, key in (("video", "unsupported_video"), ("audio", "unsupported_audio"), ("document", "unsupported_document")):
        outcome = person.says(photo=True, kind=kind)
        assert keys(outcome) == [key] and outcome.effects == []
    big = step(person.state, Inbound("telegram", "7", "x", "", (Attachment("photo", "f", "image/jpeg", 40 * 2**20),)), person.context)
    assert keys(big) == ["file_too_large"] and big.effects == []


def test_delete_my_data_asks_first() -> None:
    person = Person()
    assert keys(person.says("delete my data")) == ["erase_confirm"]
    assert keys(person.says("what?")) == ["erase_hint"]
    erased = person.says("delete")
    assert keys(erased) == ["erased"] and type(erased.effects[0]).__name__ == "EraseContact"


@pytest.mark.parametrize(
    ("said", "meant"),
    [("yesterday 5pm", datetime(2026, 11, 21, 17, 0)), ("12/11", datetime(2026, 11, 12, 12, 0)), ("2 days ago", datetime(2026, 11, 20, 14, 30)),
     ("an hour ago", datetime(2026, 11, 22, 13, 30)), ("last night", datetime(2026, 11, 21, 22, 0)), ("17:45", datetime(2026, 11, 21, 17, 45)),
     ("31/12", datetime(2025, 12, 31, 12, 0)), ("near the old bridge", None), ("today 3pm", None)],
)  # fmt: skip
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
