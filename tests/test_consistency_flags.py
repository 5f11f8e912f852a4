"""Consistency flags: what a candidate's two sides say that cannot both be true, and only that."""

from __future__ import annotations

from datetime import date

from core.found.consistency import CaseSide, SeenSide, consistency_flags, day_of, gender_of

TODAY = date(2026, 12, 6)


def codes(case: CaseSide, seen: SeenSide) -> list[str]:
    return [flag.code for flag in consistency_flags(case, seen, TODAY)]


def test_a_woman_of_sixty_is_not_a_boy_reported_at_ten() -> None:
    case = CaseSide(reported_on=date(2026, 11, 1), age=10, gender="Male")
    seen = SeenSide(date(2026, 12, 1), age_min=60, age_max=70, gender="female")
    assert codes(case, seen) == ["gender", "age"]


def test_nothing_is_flagged_where_a_side_does_not_say() -> None:
    case = CaseSide(reported_on=date(2026, 11, 1), age=None, gender="skip")
    assert codes(case, SeenSide(date(2026, 12, 1), gender="female", age_min=60)) == []
    assert codes(CaseSide(date(2026, 11, 1), 10, "boy"), SeenSide(None, gender="unknown")) == []


def test_the_missing_persons_age_grows_with_the_time_since_the_report() -> None:
    reported_long_ago = CaseSide(reported_on=date(2016, 12, 1), age=10)
    assert codes(reported_long_ago, SeenSide(date(2026, 12, 1), age_min=18, age_max=25)) == []
    assert codes(reported_long_ago, SeenSide(date(2026, 12, 1), age_min=8, age_max=12)) == ["age"]
    # A birthday may have passed since the report: 10 when reported a month ago may be 11 now.
    assert codes(CaseSide(date(2026, 11, 1), 10), SeenSide(date(2026, 12, 1), age_min=11, age_max=13)) == []
    assert codes(CaseSide(date(2026, 11, 1), 10), SeenSide(date(2026, 12, 1), age_max=9)) == ["age"]


def test_a_finding_before_the_person_went_missing_says_which_date_it_used() -> None:
    seen = SeenSide(date(2026, 10, 1))
    with_last_seen = consistency_flags(CaseSide(date(2026, 11, 3), last_seen=date(2026, 11, 1)), seen, TODAY)
    assert [f.code for f in with_last_seen] == ["before_missing"] and "last seen on 2026-11-01" in with_last_seen[
        0
    ].detail
    without = consistency_flags(CaseSide(date(2026, 11, 3)), seen, TODAY)
    assert "reported on 2026-11-03" in without[0].detail
    assert codes(CaseSide(date(2026, 11, 3), last_seen=date(2026, 9, 1)), seen) == []  # found after last seen


def test_what_families_type_for_a_gender_and_how_dates_are_stored() -> None:
    assert [gender_of(typed) for typed in ("F", "woman", "लड़का", "Male.", "tall", None)] == [
        "female",
        "female",
        "male",
        "male",
        None,
        None,
    ]
    assert day_of("2026-12-01") == date(2026, 12, 1) and day_of("") is None and day_of("garbled") is None
