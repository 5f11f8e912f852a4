"""Opting in as a volunteer and stopping: the dialog's decisions (pure, no servers)."""

from __future__ import annotations

from dataclasses import replace

from core.conversation.messages import Location
from core.conversation.state import BecomeVolunteer, StopVolunteering
from tests.test_dialog import Person, keys


def test_a_shared_location_radius_quiet_hours_and_cap_make_a_volunteer() -> None:
    person = Person()
    assert keys(person.says("volunteer")) == ["volunteer_ask_place"]
    assert keys(person.says(location=Location(28.62, 77.21, "Connaught Place"))) == ["volunteer_ask_radius"]
    assert keys(person.says("5")) == ["volunteer_ask_radius"]  # only 2, 10 or 50
    assert keys(person.says("10 km")) == ["volunteer_ask_quiet"]
    assert keys(person.says("late")) == ["volunteer_quiet_hint", "volunteer_ask_quiet"]
    assert keys(person.says("22-7")) == ["volunteer_ask_cap"]
    assert keys(person.says("99")) == ["volunteer_ask_cap"]
    done = person.says("2")
    assert keys(done) == ["volunteer_enrolled"] and person.state.flow is None
    place = {"text": "Connaught Place", "latitude": 28.62, "longitude": 77.21}
    assert done.effects == [BecomeVolunteer({"place": place, "radius_km": 10, "quiet": [22, 7], "cap": 2})]


def test_a_typed_city_is_found_in_the_bundled_list_and_anything_else_asks_for_a_location() -> None:
    person = Person()
    person.says("स्वयंसेवक")
    assert keys(person.says("my village")) == ["volunteer_share_location"]
    assert keys(person.says("  Lucknow ")) == ["volunteer_ask_radius"]
    person.says("50")
    person.says("none")
    done = person.says("skip")
    assert done.effects[0].details["place"] == {"text": "Lucknow", "latitude": 26.85, "longitude": 80.95}
    assert done.effects[0].details["quiet"] == [0, 0] and done.effects[0].details["cap"] == 3


def test_stop_ends_the_alerts_at_once_but_is_another_flows_answer_for_a_non_volunteer() -> None:
    person = Person()
    person.context = replace(person.context, volunteer=True)
    person.says("1")  # reporting a missing person
    stopped = person.says("stop")
    assert keys(stopped) == ["volunteer_stopped"] and stopped.effects == [StopVolunteering()]
    stranger = Person()
    assert keys(stranger.says("stop")) == ["volunteer_not"] and stranger.says("stop").effects == []
    stranger.says("volunteer")
    assert stranger.says("stop").effects == [StopVolunteering()] and stranger.state.flow is None
    stranger.says("1")
    assert "volunteer_not" not in keys(stranger.says("stop"))  # a name being asked for: the report goes on
