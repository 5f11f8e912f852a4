"""`volunteer`: anyone may opt in to alerts of approved appeals near them; `stop` ends it at once.

Four answers: where (a shared location, or a city the service knows: core/cities.py; any other typed place
is asked to share a location instead), how far (2, 10 or 50 km), quiet hours, and at most how many alerts a
week. Nothing is stored until the last answer (storage/volunteers.py keeps the place sealed).
"""

from __future__ import annotations

import math

from core.cities import city
from core.conversation.messages import Inbound, Reply
from core.conversation.state import BecomeVolunteer, Context, Outcome, State, StopVolunteering
from core.volunteers import DEFAULT_CAP, parse_cap, parse_quiet, parse_radius

COMMANDS = frozenset({"volunteer", "/volunteer", "स्वयंसेवक", "वॉलंटियर"})
STOP = frozenset({"stop", "/stop", "stop alerts", "रोकें", "बंद करें", "बंद"})
STEPS = ("place", "radius", "quiet", "cap")


def start(state: State) -> Outcome:
    return Outcome(state.at("volunteer", "place"), [Reply("volunteer_ask_place")])


def stop(state: State, context: Context) -> Outcome:
    """`stop`: no more alerts, from this moment (pending ones are dropped too)."""
    following = state.idle() if state.flow == "volunteer" else state
    if not context.is_volunteer() and state.flow != "volunteer":
        return Outcome(state, [Reply("volunteer_not")])
    return Outcome(following, [Reply("volunteer_stopped")], [StopVolunteering()])


def advance(state: State, message: Inbound, words: str) -> Outcome:
    """One answer of the opt-in."""
    step = state.step or "place"
    if step == "place":
        return _place(state, message)
    if step == "radius":
        radius = parse_radius(words)
        if radius is None:
            return Outcome(state, [Reply("volunteer_ask_radius")])
        return Outcome(state.at("volunteer", "quiet", radius=radius), [Reply("volunteer_ask_quiet")])
    if step == "quiet":
        quiet = parse_quiet(words)
        if quiet is None:
            return Outcome(state, [Reply("volunteer_quiet_hint"), Reply("volunteer_ask_quiet")])
        return Outcome(
            state.at("volunteer", "cap", quiet=list(quiet)), [Reply("volunteer_ask_cap", {"cap": DEFAULT_CAP})]
        )
    cap = DEFAULT_CAP if words in ("skip", "छोड़ें") else parse_cap(words)
    if cap is None:
        return Outcome(state, [Reply("volunteer_ask_cap", {"cap": DEFAULT_CAP})])
    draft = state.draft
    effect = BecomeVolunteer(
        {"place": draft["place"], "radius_km": draft["radius"], "quiet": draft["quiet"], "cap": cap}
    )
    shown = {"radius": draft["radius"], "place": draft["place"]["text"], "cap": cap}
    return Outcome(state.idle(), [Reply("volunteer_enrolled", shown)], [effect])


def _place(state: State, message: Inbound) -> Outcome:
    where = message.location
    if where is not None:
        try:
            latitude, longitude = float(where.latitude), float(where.longitude)
        except (TypeError, ValueError, OverflowError):
            latitude = longitude = math.nan
        if math.isfinite(latitude) and math.isfinite(longitude) and abs(latitude) <= 90 and abs(longitude) <= 180:
            place = {"text": " ".join((where.address or "").split())[:80], "latitude": latitude, "longitude": longitude}
            return Outcome(state.at("volunteer", "radius", place=place), [Reply("volunteer_ask_radius")])
    known = city(message.text or "")
    if known is None:
        return Outcome(state, [Reply("volunteer_share_location")])
    name, (latitude, longitude) = known
    place = {"text": name.title(), "latitude": latitude, "longitude": longitude}
    return Outcome(state.at("volunteer", "radius", place=place), [Reply("volunteer_ask_radius")])
