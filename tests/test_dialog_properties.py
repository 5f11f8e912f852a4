"""The dialog never raises, whatever arrives and wherever the conversation stands.

A message that makes `step` raise is retried and fails for ever, and every
later message of that contact queues behind it: one odd character would
brick a chat. So every reachable state (built by real steps from a fresh
conversation, every step of every flow) is fed random messages: any
Unicode, emoji, huge text, empty text, files of every kind and size,
locations with NaN or 1e308 coordinates. Each answer must render through
the catalogue and leave a state MongoDB can store and the dialog can continue.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime
from typing import Any

import bson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.conversation import catalog, flows
from core.conversation.catalog.en import MESSAGES
from core.conversation.dialog import step
from core.conversation.messages import CHANNELS, Attachment, Inbound, Location, Reply
from core.conversation.state import (
    MAX_PHOTOS,
    CaseSummary,
    Context,
    CreateCase,
    CreateSighting,
    DiscardDraft,
    EraseContact,
    Outcome,
    State,
)  # fmt: skip

NOW = datetime(2026, 11, 22, 14, 30, tzinfo=UTC)
CASES = (
    CaseSummary("HW-7K3P", "Ana {0} Lopez", "open", "20 Nov 2026", 2),
    CaseSummary("HW-2345", "Luis", "closed", "1 Jan 2026", 1),
)
CONTEXT = Context(now=NOW, cases=CASES, photo_place=True)  # a photo's GPS place on offer: the sighting asks about it
ERASE = "delete my data"
NEW_REFERENCE = {"reference": "HW-9XYZ"}  # what the worker adds to replies once a case or sighting exists

# Reproducible in CI and quick on two shared cores: no example database, the same examples every run.
PROPERTIES = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Messages -----------------------------------------------------------------------

PHOTO = Attachment("photo", "file", "image/jpeg", 200_000)
WORDS = [
    "", " ", "hi", "help", "menu", "/start", "yes", "no", "1", "2", "3", "4", "report", "sighting", "my reports",
    "cancel", "delete", "delete my data", "done", "skip", "unknown", "now", "?", "-", "submit", "Ana Lopez",
    "45", "45 years old", "²", "①", "४५", "٤٥", "４５", "-1", "121", "0" * 5000,
    "1000000 days ago", "99999999999 years ago", "1/1/0001", "29/2/2028", "31/12", "yesterday 5pm", "today 3pm",
    "2 days ago", "٣ days ago", "17:45", "12/11/2026 10:00 +01:00",
    "status HW-7K3P", "status hw 7k3p", "status HW-0000", "status HWXXXX", "found HW-7K3P", "found HW-2345",
    "add photo HW-7K3P", "add photo HW-2345", "add photo", "SG-2345", "HW-", "{", "}", "{0}", "{name}", "{reference}",
    "{0:>99999999}", "%s %d", "\x00", "\x00\x01\x1b[31m", "\ud800", "\u202e", "\u200d", "\r\n", "\t", "ſtatus HW-7K3P",
]  # fmt: skip
EMOJI = ["😀", "👍", "👍🏽", "👨‍👩‍👧‍👦", "🇪🇸", "🏳️‍🌈", "❤️", "🧑🏿‍🦱", "\U0001faf6"]
any_character = st.characters(exclude_categories=())  # every code point, lone surrogates included
texts = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(WORDS),
    st.text(),
    st.text(any_character, max_size=30),
    st.lists(st.sampled_from(EMOJI), max_size=6).map("".join),
    st.lists(st.one_of(st.sampled_from(WORDS), st.sampled_from(EMOJI), st.text(max_size=5)), max_size=5).map(" ".join),
    st.tuples(st.text(any_character, min_size=1, max_size=4), st.integers(1_000, 100_000)).map(lambda t: t[0] * t[1]),
)
kinds = st.one_of(st.sampled_from(["photo", "photo", "video", "audio", "document", "sticker"]), st.text(max_size=10))
sizes = st.one_of(st.none(), st.integers(), st.integers(min_value=2**60), st.sampled_from([0, -1, 2**24, 10**400]))
content_types = st.one_of(st.just(""), st.sampled_from(["image/jpeg", "video/mp4", "audio/ogg"]), st.text(max_size=20))
attachments = st.builds(Attachment, kind=kinds, ref=st.text(max_size=20), content_type=content_types, size=sizes)
addresses = st.one_of(st.just(""), st.text(max_size=50), st.sampled_from(WORDS))
locations = st.builds(Location, latitude=st.floats(), longitude=st.floats(), address=addresses)  # NaN, inf, 1e308 too
inbounds = st.builds(
    Inbound,
    channel=st.sampled_from(CHANNELS),
    chat_id=st.just("7"),
    message_id=st.just("1"),
    text=texts,
    attachments=st.one_of(st.just(()), st.just((PHOTO,)), st.lists(attachments, max_size=7).map(tuple)),
    location=st.one_of(st.none(), locations),
)


# Reachable states -----------------------------------------------------------------

LOCATION = Location(40.41, -3.70, "Sol")
ALL_STEPS = (
    {("before consent", None), ("asked consent", None), (None, None), ("add_photo", "photos"), ("erase", "confirm")}
    | {("report", s) for s in flows.REPORT_STEPS}
    | {("sighting", s) for s in flows.SIGHTING_STEPS}
)
SCRIPTS: list[list[Any]] = [
    [
        "hi",
        "yes",
        "report",
        "Ana Lopez",
        "45",
        "skip",
        "Retiro park",
        "yesterday 5pm",
        "red coat",
        "done",
        PHOTO,
        "done",
        "yes",
    ],
    [
        "hi",
        "yes",
        "report",
        "Ana {name} {0}",
        PHOTO,
        "unknown",
        "{gender}",
        LOCATION,
        "unknown",
        "skip",
        PHOTO,
        PHOTO,
        PHOTO,
        PHOTO,
        PHOTO,
        "done",
    ],
    ["hi", "yes", "1", "Luis", "7", "male", "Plaza Mayor", "2 days ago", "x" * 5000, PHOTO, "cancel"],
    ["hi", "yes", PHOTO, LOCATION, "now", "skip"],
    ["hi", "yes", "2", PHOTO, PHOTO, "bus stop", "10 minutes ago", "blue jacket"],
    ["hi", "yes", "add photo HW-7K3P", PHOTO, PHOTO, PHOTO, PHOTO, PHOTO, PHOTO, "done"],
    ["hi", "yes", "4", "cancel", "report", "delete my data", "delete"],
]


def _drive(script: list[Any]) -> list[State]:
    """Every state the script passes through, from a fresh conversation, by real steps."""
    states = [State()]
    for index, said in enumerate(script):
        message = (
            Inbound("telegram", "7", str(index), attachments=(said,)) if isinstance(said, Attachment)
            else Inbound("telegram", "7", str(index), location=said) if isinstance(said, Location)
            else Inbound("telegram", "7", str(index), said)
        )  # fmt: skip
        states.append(step(states[-1], message, CONTEXT).state)
    return states


def _where(state: State) -> tuple[str | None, str | None]:
    if not state.consent:
        return ("asked consent" if state.asked_consent else "before consent", None)
    return (state.flow, state.step)


def _reachable() -> list[State]:
    unique: dict[str, State] = {}
    for script in SCRIPTS:
        for state in _drive(script):
            unique.setdefault(repr(state), state)
    return list(unique.values())


REACHABLE = _reachable()


def test_the_states_tried_cover_every_step_of_every_flow() -> None:
    assert {_where(state) for state in REACHABLE} == ALL_STEPS
    assert any(state.step == "photos" and state.draft.get("photos") == MAX_PHOTOS for state in REACHABLE)
    assert any(state.flow == "add_photo" and state.draft.get("photos") == MAX_PHOTOS for state in REACHABLE)
    assert any("latitude" in (state.draft.get("place") or {}) for state in REACHABLE if state.flow == "report")


# Checks ---------------------------------------------------------------------------


def _placeholders(reply: Reply) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(MESSAGES[reply.key]) if name}


def _render(reply: Reply, extra: dict[str, Any]) -> str:
    """Render as the worker does, first checking every placeholder gets a real value (not the '?' fallback)."""
    missing = _placeholders(reply) - set(reply.params) - set(extra)
    assert not missing, f"{reply.key} lacks {missing}"
    for value in reply.params.values():
        for nested in value if isinstance(value, list) else [value]:
            if isinstance(nested, Reply):
                _render(nested, {})
    return catalog.render(reply, extra=extra)


def _check(before: State, message: Inbound, outcome: Outcome) -> None:
    assert isinstance(outcome, Outcome) and outcome.replies, (before, message)
    creates = any(isinstance(effect, (CreateCase, CreateSighting)) for effect in outcome.effects)
    for reply in outcome.replies:
        assert _render(reply, NEW_REFERENCE if creates else {}).strip()
    doc = outcome.state.to_doc()
    encoded = bson.encode(doc)
    assert len(encoded) < 16_000, "the stored state stays small, whatever was typed"
    assert State.from_doc(bson.decode(encoded)).to_doc().keys() == doc.keys()
    for effect in outcome.effects:
        if isinstance(effect, (CreateCase, CreateSighting)):
            bson.encode(effect.details)
    assert flows.is_known(outcome.state), "the dialog can continue from the state it leaves"
    assert 0 <= outcome.state.draft.get("photos", 0) <= MAX_PHOTOS


# Properties -----------------------------------------------------------------------


def test_every_tricky_word_at_every_step_is_answered() -> None:
    """The known troublemakers, tried everywhere: alone, with a photo, with a garbled location, with a huge file."""
    extras: list[dict[str, Any]] = [{}, {"attachments": (PHOTO,)}, {"location": Location(float("nan"), 1e308, "")},
                                    {"attachments": (Attachment("photo", "f", "", 10**400),)}]  # fmt: skip
    for words in WORDS:
        for extra in extras:
            message = Inbound("telegram", "7", "1", words, **extra)
            for state in REACHABLE:
                _check(state, message, step(state, message, CONTEXT))


@PROPERTIES
@given(message=inbounds)
def test_any_message_at_any_step_is_answered(message: Inbound) -> None:
    for state in REACHABLE:
        _check(state, message, step(state, message, CONTEXT))


@PROPERTIES
@given(start=st.sampled_from(REACHABLE), messages=st.lists(inbounds, min_size=1, max_size=6))
def test_any_sequence_of_messages_keeps_the_conversation_going(start: State, messages: list[Inbound]) -> None:
    state = start
    for message in messages:
        outcome = step(state, message, CONTEXT)
        _check(state, message, outcome)
        state = outcome.state


spellings = st.tuples(st.sampled_from(["{}", "{}!", "  {}  ", "{}.", "{}?"]), st.sampled_from(["lower", "upper"]))


def _say(words: str, spelling: tuple[str, str]) -> Inbound:
    shape, case = spelling
    return Inbound("whatsapp", "7", "1", shape.format(getattr(words, case)()))


@PROPERTIES
@given(spelling=spellings)
def test_help_cancel_and_delete_my_data_work_from_every_state(spelling: tuple[str, str]) -> None:
    for state in REACHABLE:
        where = _where(state)
        helped, cancelled, erasing = (step(state, _say(said, spelling), CONTEXT) for said in ("help", "cancel", ERASE))
        if where == ("before consent", None):
            assert keys(helped) == ["welcome"] and keys(cancelled) == ["welcome"]
        elif where == ("asked consent", None):
            assert keys(helped) == ["welcome"] and keys(cancelled) == ["consent_declined"]
        else:
            assert keys(helped) == ["menu"] + (["menu_in_flow"] if state.flow else [])
            assert helped.state == state, "help keeps the answers given so far"
            assert keys(cancelled) == (["cancelled"] if state.flow else ["nothing_to_cancel"])
            assert cancelled.state.flow is None and (DiscardDraft() in cancelled.effects) == bool(state.flow)
        if not state.consent:
            assert keys(erasing) == ["erased"] and erasing.effects == [EraseContact()]
            continue
        assert keys(erasing) == ["erase_confirm"] and _where(erasing.state) == ("erase", "confirm")
        confirmed = step(erasing.state, Inbound("telegram", "7", "2", "delete"), CONTEXT)
        assert keys(confirmed) == ["erased"] and confirmed.effects == [EraseContact()]


def keys(outcome: Outcome) -> list[str]:
    return [reply.key for reply in outcome.replies]
