"""Hindi beside English: every sentence translated, the language chosen from the chat and kept."""

from __future__ import annotations

import importlib
import re
import string
from datetime import UTC, datetime

import pytest

from bot.telegram import parse_update
from core.conversation.catalog import LANGUAGES, render
from core.conversation.catalog.en import MESSAGES as ENGLISH
from core.conversation.catalog.hi import MESSAGES as HINDI
from core.conversation.dialog import step
from core.conversation.messages import Inbound, Reply, inbound_from_doc, inbound_to_doc
from core.conversation.state import Context, Outcome, State

NOW = datetime(2026, 11, 22, 14, 30, tzinfo=UTC)
DEVANAGARI = re.compile("[\u0900-\u097f]")


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code != "en"])
def test_every_key_is_translated_with_the_same_placeholders(language: str) -> None:
    translated = importlib.import_module(f"core.conversation.catalog.{language}").MESSAGES
    assert sorted(set(ENGLISH) - set(translated)) == [], "keys missing from the translation"
    assert sorted(set(translated) - set(ENGLISH)) == [], "keys the English catalogue no longer has"
    wrong = {key: (placeholders(text), placeholders(ENGLISH[key])) for key, text in translated.items()}
    assert {key: sets for key, sets in wrong.items() if sets[0] != sets[1]} == {}


def test_hindi_sentences_are_hindi_and_render_without_falling_back() -> None:
    values = {name: "X" for text in ENGLISH.values() for name in placeholders(text)}
    for key in HINDI:
        said = render(Reply(key, values), "hi")
        assert said == HINDI[key].format(**values), f"{key} fell back to English"
        if key != "case_line":  # a line of references and names only
            assert DEVANAGARI.search(said), f"{key} is not in Hindi"


class Person:
    def __init__(self, language: str = "") -> None:
        self.state, self.language, self.count = State(), language, 0

    def says(self, text: str) -> Outcome:
        self.count += 1
        message = Inbound("telegram", "7", str(self.count), text, language=self.language)
        outcome = step(self.state, message, Context(now=NOW))
        self.state = outcome.state
        return outcome


def keys(outcome: Outcome) -> list[str]:
    return [reply.key for reply in outcome.replies]


def test_telegram_language_code_chooses_hindi_from_the_first_message() -> None:
    person = Person(language="hi-IN")
    assert keys(person.says("/start")) == ["welcome"] and person.state.language == "hi"
    assert keys(person.says("हाँ")) == ["consent_thanks", "menu"]


def test_devanagari_text_chooses_hindi_even_after_an_english_greeting() -> None:
    person = Person()
    person.says("hi")
    assert person.state.language == "en"
    assert keys(person.says("हां")) == ["consent_thanks", "menu"] and person.state.language == "hi"
    person.says("1")
    person.says("Ravi Kumar")  # a Latin name after consent changes nothing
    assert person.state.language == "hi"


def test_the_language_command_switches_and_is_kept() -> None:
    person = Person()
    assert keys(person.says("language hi")) == ["language_set", "welcome"] and person.state.language == "hi"
    person.says("yes")
    assert keys(person.says("language en")) == ["language_set", "menu"] and person.state.language == "en"
    assert keys(person.says("भाषा")) == ["language_set", "menu"] and person.state.language == "hi"
    assert keys(person.says("language klingon")) == ["language_choose"] and person.state.language == "hi"
    person.says("1")
    assert keys(person.says("language en")) == ["language_set", "menu_in_flow"] and person.state.flow == "report"
    assert person.state.language == "en"


@pytest.mark.parametrize(
    ("said", "expected"),
    [("मदद", ["menu"]), ("रद्द", ["nothing_to_cancel"]), ("नमस्ते", ["menu"]), ("मेरा डेटा मिटाएं", ["erase_confirm"])],
)
def test_hindi_commands_work_like_english_ones(said: str, expected: list[str]) -> None:
    person = Person()
    person.says("नमस्ते")
    person.says("हाँ।")  # a danda is punctuation, like a full stop
    assert keys(person.says(said)) == expected


def test_declining_in_hindi_is_a_no() -> None:
    person = Person()
    person.says("नमस्ते")
    assert keys(person.says("नहीं")) == ["consent_declined"] and person.state.language == "hi"


def test_a_hindi_report_accepts_hindi_words_for_unknown_skip_and_done() -> None:
    person = Person(language="hi")
    for text in ("नमस्ते", "हाँ", "1", "राम कुमार", "पता नहीं", "छोड़ें", "चाँदनी चौक", "पता नहीं", "छोड़ें", "हो गया"):
        outcome = person.says(text)
    assert keys(outcome) == ["photos_needed"]  # every answer was taken, 'done' too; only a photo is missing
    assert person.state.draft["name"] == "राम कुमार" and person.state.draft["age"] is None


def test_the_platform_language_travels_with_the_message() -> None:
    body = {
        "update_id": 7,
        "message": {
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": {"id": 5, "type": "private"},
            "from": {"id": 5, "is_bot": False, "first_name": "R", "language_code": "hi"},
            "text": "hello",
        },
    }
    message = parse_update(body)
    assert message is not None and message.language == "hi"
    assert inbound_from_doc(inbound_to_doc(message)).language == "hi"
    assert inbound_from_doc(inbound_to_doc(Inbound("simulator", "a", "1", "hi"))).language == ""


def test_a_state_stored_before_languages_reads_as_not_chosen() -> None:
    old = {"consent": True, "asked_consent": True, "flow": None, "step": None, "draft": {}}
    assert State.from_doc(old).language is None
    assert State.from_doc(State(language="hi").to_doc()).language == "hi"
