"""The multi-step flows: report a missing person, report a sighting, add photos to a case.

Each step reads one answer; a wrong answer is asked again with a hint.
Photos are welcome at any step of a report or sighting (people send them
when they have them) and counted towards the limit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from itertools import islice
from typing import Any

from core.conversation.messages import Inbound, Location, Reply
from core.conversation.state import MAX_PHOTOS, Context, CreateCase, CreateSighting, Effect, Outcome, State, StorePhoto
from core.conversation.when import TooLongAgo, parse_when
from core.conversation.words import DONE, NOW, SKIP, UNKNOWN, clean, is_no, is_yes

REPORT_STEPS = ("name", "age", "gender", "place", "time", "description", "photos", "confirm")
SIGHTING_STEPS = ("photo", "place", "time", "note", "photo_place")  # photo_place: only asked when it applies
_PROMPTS = {
    ("report", "name"): "ask_name",
    ("report", "age"): "ask_age",
    ("report", "gender"): "ask_gender",
    ("report", "place"): "ask_place",
    ("report", "time"): "ask_time",
    ("report", "description"): "ask_description",
    ("report", "photos"): "ask_photos",
    ("sighting", "photo"): "sighting_ask_photo",
    ("sighting", "place"): "sighting_ask_place",
    ("sighting", "time"): "sighting_ask_time",
    ("sighting", "note"): "sighting_ask_note",
    ("sighting", "photo_place"): "sighting_ask_photo_place",
}
MAX_NAME, MAX_GENDER, MAX_PLACE, MAX_TIME, MAX_FREE_TEXT = 100, 40, 200, 100, 1000  # characters kept in the draft
MAX_AGE = 120
_SHORTENED = "_shortened"  # an answer's private field: the limit its text was cut to


class Invalid(Exception):
    """An answer that doesn't fit the question; carries the hint to send."""

    def __init__(self, hint: str) -> None:
        super().__init__(hint)
        self.hint = hint


def is_known(state: State) -> bool:
    """A stored state this code can continue; an old step name or a damaged draft starts afresh instead."""
    draft = state.draft
    if not isinstance(draft.get("photos", 0), int):
        return False
    if state.flow == "report":
        return state.step in REPORT_STEPS and (state.step == "name" or isinstance(draft.get("name"), str))
    if state.flow == "sighting":
        return state.step in SIGHTING_STEPS
    if state.flow == "add_photo":
        return state.step == "photos" and isinstance(draft.get("reference"), str)
    if state.flow == "erase":
        return state.step == "confirm"
    if state.flow == "appeal":
        return state.step in ("photo", "name", "age", "place", "description", "confirm") and isinstance(
            draft.get("reference"), str
        )
    if state.flow == "volunteer":
        return state.step in ("place", "radius", "quiet", "cap")
    return state.flow is None


def advance(state: State, message: Inbound, words: str, context: Context) -> Outcome:
    """Feed one message to the flow in progress."""
    if state.flow == "add_photo":
        return _add_photo(state, message, words)
    photos = _take_photos(state, message)
    state, replies, effects = photos.state, photos.replies, photos.effects
    if message.photos and not words and not message.location:
        if state.flow == "sighting" and state.step == "photo":
            return Outcome(state.at("sighting", "place"), replies + [Reply("sighting_ask_place")], effects)
        return Outcome(state, replies + _repeat_question(state), effects)
    if state.step == "confirm":
        return _confirm(state, words, replies, effects, context)
    if (state.flow, state.step) == ("sighting", "photo") and state.draft.get("appeal") and words in SKIP:
        return Outcome(state.at("sighting", "place"), replies + [Reply("sighting_ask_place")], effects)
    try:
        value = _ANSWERS[(state.flow, state.step)](message, words, context)  # type: ignore[index]
    except Invalid as wrong:
        return Outcome(state, replies + [Reply(wrong.hint, _params(state))], effects)
    if limit := value.pop(_SHORTENED, None):
        replies = replies + [Reply("text_shortened", {"limit": limit})]
    return _next(state.at(state.flow, state.step, **value), context, replies, effects)


def start_sighting(state: State, message: Inbound) -> Outcome:
    """A photo sent outside any flow is a sighting."""
    taken = _take_photos(state.at("sighting", "place", photos=0), message)
    return Outcome(taken.state, [Reply("sighting_ask_place")], taken.effects)


# Answers: each returns the draft fields it sets, or raises Invalid ---------------


def _name(message: Inbound, words: str, _: Context) -> dict[str, Any]:
    name = " ".join(message.text.split())
    if len(name) > MAX_NAME:
        raise Invalid("ask_name_too_long")
    if sum(ch.isalpha() for ch in name) < 2:
        raise Invalid("ask_name_hint")
    return {"name": name}


def _age(_message: Inbound, words: str, _: Context) -> dict[str, Any]:
    """A whole number of years in any script's decimal digits ('45', '٤٥', '४५'); not '²' or '①'."""
    if words in UNKNOWN:
        return {"age": None}
    digits = words.removesuffix("years old").removesuffix("years").strip()
    if not (digits.isdecimal() and len(digits) <= 3 and int(digits) <= MAX_AGE):
        raise Invalid("ask_age_hint")
    return {"age": int(digits)}


def _gender(message: Inbound, words: str, _: Context) -> dict[str, Any]:
    return {"gender": None} if words in SKIP or not words else _bounded("gender", message.text.strip(), MAX_GENDER)


def _place(message: Inbound, words: str, _: Context) -> dict[str, Any]:
    """A shared location with usable coordinates, else the typed place, else the shared location's address."""
    where = message.location
    if where and (coordinates := _coordinates(where)):
        address = " ".join(clean(where.address).split())[:MAX_PLACE]
        return {"place": {"text": address, "latitude": coordinates[0], "longitude": coordinates[1]}}
    typed = " ".join(message.text.split())
    if where and not _two_alphanumerics(typed):
        typed = " ".join(clean(where.address).split())  # a pin with garbled coordinates: its address, if any
    if not _two_alphanumerics(typed):
        raise Invalid("ask_place_hint")
    place = _bounded("text", typed, MAX_PLACE)
    return {"place": {"text": place.pop("text")}, **place}


def _time(message: Inbound, words: str, context: Context) -> dict[str, Any]:
    if not words:
        raise Invalid("ask_time_hint")
    if words in UNKNOWN:
        return {"time_text": None, "time": None}
    return _bounded("time_text", message.text.strip(), MAX_TIME) | {"time": _parse_when(message.text, context)}


def _sighting_time(message: Inbound, words: str, context: Context) -> dict[str, Any]:
    if words in NOW:
        return {"time_text": "now", "time": context.now}
    return _bounded("time_text", message.text.strip(), MAX_TIME) | {"time": _parse_when(message.text, context)}


def _parse_when(text: str, context: Context) -> datetime | None:
    try:
        return parse_when(text, context.now)
    except TooLongAgo:
        raise Invalid("time_too_long_ago") from None


def _free_text(field: str) -> Callable[[Inbound, str, Context], dict[str, Any]]:
    def answer(message: Inbound, words: str, _: Context) -> dict[str, Any]:
        return {field: None} if words in SKIP or not words else _bounded(field, message.text.strip(), MAX_FREE_TEXT)

    return answer


def _bounded(field: str, text: str, limit: int) -> dict[str, Any]:
    """The answer as a draft field, cut to `limit` characters; the cut is noted so the reply can say so."""
    if len(text) <= limit:
        return {field: text}
    return {field: text[:limit].rstrip(), _SHORTENED: limit}


def _two_alphanumerics(text: str) -> bool:
    """At least two letters or digits: enough to name a place. Stops looking once found, however long the text."""
    return next(islice((ch for ch in text if ch.isalnum()), 1, None), None) is not None


def _coordinates(where: Location) -> tuple[float, float] | None:
    """Latitude and longitude when they are real numbers on the globe; None for NaN, infinities, 200°N."""
    try:
        latitude, longitude = float(where.latitude), float(where.longitude)
    except (TypeError, ValueError, OverflowError):
        return None
    if math.isfinite(latitude) and math.isfinite(longitude) and -90 <= latitude <= 90 and -180 <= longitude <= 180:
        return latitude, longitude
    return None


def _photos_done(_message: Inbound, words: str, _: Context) -> dict[str, Any]:
    if words not in DONE:
        raise Invalid("ask_photos_hint")
    return {}


def _photo_place(_message: Inbound, words: str, _: Context) -> dict[str, Any]:
    """Yes or no: may the photo's GPS place stand for where the person was seen."""
    if is_yes(words):
        return {"use_photo_place": True}
    if is_no(words) or words in SKIP:
        return {"use_photo_place": False}
    raise Invalid("sighting_ask_photo_place")


def _sighting_photo(_message: Inbound, _words: str, _: Context) -> dict[str, Any]:
    raise Invalid("sighting_ask_photo")  # only a photo moves this step on (see advance)


_ANSWERS: dict[tuple[str, str], Callable[[Inbound, str, Context], dict[str, Any]]] = {
    ("report", "name"): _name,
    ("report", "age"): _age,
    ("report", "gender"): _gender,
    ("report", "place"): _place,
    ("report", "time"): _time,
    ("report", "description"): _free_text("description"),
    ("report", "photos"): _photos_done,
    ("sighting", "photo"): _sighting_photo,
    ("sighting", "place"): _place,
    ("sighting", "time"): _sighting_time,
    ("sighting", "note"): _free_text("note"),
    ("sighting", "photo_place"): _photo_place,
}


# Moving on -----------------------------------------------------------------------


def _next(state: State, context: Context, replies: list[Reply], effects: list[Effect]) -> Outcome:
    steps = REPORT_STEPS if state.flow == "report" else SIGHTING_STEPS
    position = steps.index(state.step or steps[0]) + 1
    if state.flow == "report" and steps[position] == "photos" and state.draft.get("photos", 0) > 0:
        return Outcome(
            state.at("report", "photos"),
            replies + [Reply("photos_so_far", _params(state) | {"count": state.draft["photos"]})],
            effects,
        )
    if state.flow == "report" and steps[position] == "photos" and context.text_only:
        # No photo can come this way: the summary, and the report is kept awaiting a photo.
        following = state.at("report", "confirm")
        return Outcome(following, replies + [Reply("sms_no_photos"), _summary(following)], effects)
    if state.flow == "report" and steps[position] == "confirm" and not state.draft.get("photos"):
        return Outcome(state, replies + [Reply("photos_needed", _params(state))], effects)
    if steps[position : position + 1] == ("photo_place",) and not _may_ask_photo_place(state, context):
        position += 1
    if position >= len(steps):  # the sighting's last answer
        details = {k: state.draft.get(k) for k in ("place", "time_text", "time", "note")}
        details |= {"appeal": state.draft["appeal"]} if state.draft.get("appeal") else {}
        create = CreateSighting(details, use_photo_place=state.draft.get("use_photo_place") is True)
        return Outcome(state.idle(), replies + [Reply("sighting_created")], effects + [create])
    following = state.at(state.flow, steps[position])
    if steps[position] == "confirm":
        return Outcome(following, replies + [_summary(following)], effects)
    return Outcome(following, replies + [Reply(_PROMPTS[(state.flow, steps[position])], _params(state))], effects)  # type: ignore[index]


def _may_ask_photo_place(state: State, context: Context) -> bool:
    """A photo's GPS place is offered only when a photo has one and the sender shared no location of their own."""
    place = state.draft.get("place") or {}
    return context.photo_place and not {"latitude", "longitude"} <= place.keys()


def _confirm(state: State, words: str, replies: list[Reply], effects: list[Effect], context: Context) -> Outcome:
    if not is_yes(words) and words != "submit":
        return Outcome(state, replies + [Reply("confirm_hint")], effects)
    details = {k: state.draft.get(k) for k in ("name", "age", "gender", "place", "time_text", "time", "description")}
    created = [Reply("case_created")]
    if not state.draft.get("photos"):  # reported by SMS: kept, and searched once a photo arrives
        created = [Reply("case_created_awaiting_photo"), Reply("how_to_add_photo")]
    return Outcome(state.idle(), replies + created, effects + [CreateCase(details)])


def _summary(state: State) -> Reply:
    draft = state.draft
    place = draft.get("place") or {}
    pinned = {"latitude", "longitude"} <= place.keys()
    where = place.get("text") or (f"{place['latitude']:.5f}, {place['longitude']:.5f}" if pinned else "")
    return Reply(
        "summary",
        {
            "name": draft["name"],
            "age": draft.get("age") if draft.get("age") is not None else Reply("unknown"),
            "gender": draft.get("gender") or Reply("not_given"),
            "place": where,
            "time": draft.get("time_text") or Reply("unknown"),
            "description": draft.get("description") or Reply("not_given"),
            "photos": draft.get("photos", 0),
        },
    )


def _take_photos(state: State, message: Inbound) -> Outcome:
    """Keep the message's photos in the draft, up to MAX_PHOTOS."""
    count, replies, effects = state.draft.get("photos", 0), [], []
    for attachment in message.photos:
        if count >= MAX_PHOTOS:
            replies.append(Reply("photos_full", {"count": count}))
            break
        count += 1
        purpose = "sighting" if state.flow == "sighting" else "case"
        effects.append(
            StorePhoto(attachment, count, purpose, state.draft.get("name", ""), state.draft.get("reference"))
        )
    return Outcome(state.at(state.flow, state.step, photos=count), replies, effects)  # type: ignore[arg-type]


def _repeat_question(state: State) -> list[Reply]:
    """After a photo sent mid-flow: acknowledge it and ask the pending question again."""
    count = state.draft.get("photos", 0)
    if state.flow == "sighting":
        return [Reply("sighting_photo_added", {"count": count})]
    if state.step == "photos":
        return [Reply("photo_received_more", {"count": count})]
    prompt = _summary(state) if state.step == "confirm" else Reply(_PROMPTS[("report", state.step)], _params(state))  # type: ignore[index]
    return [Reply("photo_kept_for_later", {"count": count}), prompt]


def _add_photo(state: State, message: Inbound, words: str) -> Outcome:
    reference = state.draft["reference"]
    if words in DONE:
        key = "add_photo_done" if state.draft.get("photos") else "add_photo_none"
        return Outcome(state.idle(), [Reply(key, {"reference": reference, "count": state.draft.get("photos", 0)})])
    if not message.photos:
        return Outcome(state, [Reply("add_photo_ask", {"reference": reference})])
    taken = _take_photos(state, message)
    count = taken.state.draft["photos"]
    return Outcome(taken.state, taken.replies + [Reply("photo_received_more", {"count": count})], taken.effects)


def _params(state: State) -> dict[str, Any]:
    return {"name": state.draft.get("name", "")}
