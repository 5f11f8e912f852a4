"""Asking for an appeal in the chat, withdrawing it, and scanning a poster's code: the dialog's decisions."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.conversation.catalog import text
from core.conversation.state import CaseSummary, Context, CreateSighting, DiscardDraft, RequestAppeal, WithdrawAppeal
from tests.test_dialog import NOW, Person, keys

OPEN = CaseSummary("HW-7K3P", "Ana Lopez", "open", "20 Nov 2026", 2, faces=1)


def family(*cases: CaseSummary) -> Person:
    return Person(cases=cases or (OPEN,))


def test_a_family_chooses_what_its_appeal_shows_and_a_reviewer_is_asked() -> None:
    person = family()
    assert keys(person.says("appeal HW-7K3P")) == ["appeal_ask_photo"]
    assert keys(person.says("maybe")) == ["appeal_yes_no", "appeal_ask_photo"]
    person.says("yes")
    assert keys(person.says("3")) == ["appeal_name_choice", "appeal_ask_name"]
    person.says("1")
    person.says("no")  # age
    person.says("yes")  # place and date
    summary = person.says("Red scarf, walks with a stick")
    rendered = text(summary.replies[0].key, "en", **summary.replies[0].params)
    assert "Name: Ana\n" in rendered and "Age: not shown" in rendered
    done = person.says("yes")
    assert keys(done) == ["appeal_requested"] and person.state.flow is None
    assert done.effects == [
        RequestAppeal(
            "HW-7K3P",
            {
                "photo": True,
                "full_name": False,
                "age": False,
                "place": True,
                "description": "Red scarf, walks with a stick",
            },
        )
    ]


@pytest.mark.parametrize(
    ("case", "asked", "answer"),
    [
        (OPEN, "appeal HW-9Z9Z", "case_unknown"),  # someone else's case: not among the family's own
        (replace(OPEN, status="closed"), "appeal HW-7K3P", "appeal_case_closed"),
        (replace(OPEN, faces=0), "appeal HW-7K3P", "appeal_no_photo"),
        (replace(OPEN, appeal="AP-2B3C"), "appeal HW-7K3P", "appeal_already"),  # a second request
        (OPEN, "appeal", "need_reference"),
    ],
)
def test_each_appeal_that_cannot_be_has_its_own_answer(case: CaseSummary, asked: str, answer: str) -> None:
    outcome = family(case).says(asked)
    assert keys(outcome) == [answer] and outcome.effects == [] and outcome.state.flow is None


def test_withdrawing_takes_down_the_running_appeal() -> None:
    assert keys(family().says("withdraw appeal")) == ["appeal_none"]
    outcome = family(replace(OPEN, appeal="AP-2B3C")).says("Withdraw appeal")
    assert keys(outcome) == ["appeal_withdrawn"] and outcome.effects == [WithdrawAppeal("AP-2B3C")]


def scanner(status: str, consent: bool = True) -> Person:
    person = Person(consent=consent)
    person.context = Context(now=NOW, scanned=("AP-2B3C", status))
    return person


def test_a_scanned_code_starts_a_sighting_tied_to_the_appeal_even_without_a_photo() -> None:
    person = scanner("active")
    assert keys(person.says("/start AP-2B3C")) == ["appeal_scanned"]
    assert keys(person.says("skip")) == ["sighting_ask_place"]
    person.says("Bus stand, gate 2")
    person.says("now")
    created = person.says("skip")
    assert keys(created) == ["sighting_created"]
    sighting = created.effects[-1]
    assert isinstance(sighting, CreateSighting) and sighting.details["appeal"] == "AP-2B3C"


def test_a_first_time_scanner_consents_first_and_then_lands_in_the_appeal() -> None:
    person = scanner("active", consent=False)
    assert keys(person.says("/start AP-2B3C")) == ["welcome"]
    assert keys(person.says("yes")) == ["consent_thanks", "appeal_scanned"]
    assert person.state.flow == "sighting" and person.state.draft["appeal"] == "AP-2B3C"


@pytest.mark.parametrize(("status", "answer"), [("ended", "appeal_ended"), ("unknown", "appeal_unknown")])
def test_an_ended_or_forged_code_is_answered_and_nothing_starts(status: str, answer: str) -> None:
    for consent in (True, False):
        outcome = scanner(status, consent).says("/start AP-2B3C")
        assert keys(outcome) == [answer] and outcome.effects == [] and outcome.state.flow is None
    assert text("appeal_ended", "en") == "This appeal has ended. Thank you."


def test_a_scan_in_the_middle_of_a_report_leaves_it() -> None:
    person = scanner("active")
    person.says("1")
    outcome = person.says("AP-2B3C")
    assert keys(outcome) == ["appeal_scanned"] and outcome.effects == [DiscardDraft()]
