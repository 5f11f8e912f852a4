"""Parse "when was this?" answers: 'yesterday 5pm', '12/11', '2 days ago', 'now'.

Always keep the person's own words; the parsed time is a best effort used
for sorting and the lookback window, and is None when unsure. Words that
clearly name a moment too far back ('1000000 days ago', '1/1/0001') raise
TooLongAgo, so the question can be asked again.
"""

from __future__ import annotations

import re
import warnings
from datetime import datetime, timedelta

from dateutil import parser as date_parser

MAX_YEARS_BACK = 120  # nobody reports a sighting older than a lifetime
_MAX_BACK = timedelta(days=MAX_YEARS_BACK * 366)
_MAX_CHARS = 200  # a date is short; a whole letter is not parsed as one
_AGO = re.compile(r"(\d+|an?|one|two|three)\s*(minute|min|hour|hr|day|week|month|year|yr)s?\s+ago", re.I)
_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3}
_UNITS = {
    "minute": 60, "min": 60, "hour": 3600, "hr": 3600, "day": 86400, "week": 604800, "month": 2592000,
    "year": 31536000, "yr": 31536000,
}  # fmt: skip
_CLOCK = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\b", re.I)
_DAY_WORDS = {
    "today": 0,
    "tonight": 0,
    "this morning": 0,
    "this afternoon": 0,
    "this evening": 0,
    "yesterday": 1,
    "last night": 1,
}
_PART_OF_DAY = {"morning": 9, "afternoon": 15, "evening": 19, "tonight": 21, "night": 22}


class TooLongAgo(ValueError):
    """The words name a moment more than MAX_YEARS_BACK years ago, or before the calendar starts."""


def parse_when(text: str, now: datetime) -> datetime | None:
    """Best guess at the moment `text` describes, never in the future; None when unsure.

    Raises TooLongAgo for a moment further back than MAX_YEARS_BACK years.
    """
    words = " ".join((text or "").lower().split())[:_MAX_CHARS]
    if not words:
        return None
    if words in ("now", "just now", "right now"):
        return now
    if match := _AGO.search(words):
        return _ago(match, now)
    for phrase, days_back in _DAY_WORDS.items():
        if phrase in words:
            return _on_day(now - timedelta(days=days_back), words.replace(phrase, " "), phrase)
    moment = _absolute(words, now)
    if moment is not None and now - moment > _MAX_BACK:
        raise TooLongAgo(text)
    return moment


def _ago(match: re.Match[str], now: datetime) -> datetime:
    """'3 days ago'; any script's digits count ('٣ days ago'), an absurd amount does not."""
    number = match.group(1).lower()
    amount = _WORDS[number] if number in _WORDS else int(number) if len(number) <= 12 else None
    seconds = None if amount is None else amount * _UNITS[match.group(2).lower()]
    if seconds is None or seconds > _MAX_BACK.total_seconds():
        raise TooLongAgo(match.group(0))
    return now - timedelta(seconds=seconds)


def _on_day(day: datetime, rest: str, phrase: str) -> datetime | None:
    clock = _clock(rest)
    if clock is None:
        hour = next((h for part, h in _PART_OF_DAY.items() if part in phrase or part in rest), None)
        if hour is None:
            return day if phrase == "today" else day.replace(hour=12, minute=0, second=0, microsecond=0)
        clock = (hour, 0)
    moment = day.replace(hour=clock[0], minute=clock[1], second=0, microsecond=0)
    return moment if moment <= day or phrase != "today" else None  # "today 3pm" said at 2pm: unsure


def _clock(text: str) -> tuple[int, int] | None:
    match = _CLOCK.search(text)
    if not match or (match.group(3) is None and match.group(2) is None):
        return None  # a bare number is not a time of day
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if match.group(3):
        hour = hour % 12 + (12 if match.group(3).lower() == "pm" else 0)
    return (hour, minute) if hour < 24 and minute < 60 else None


def _absolute(words: str, now: datetime) -> datetime | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # dateutil warns about time zone names it doesn't know ('5pm EST')
            # Day first: '12/11' is 12 November, as most of the world writes it.
            noon = now.replace(hour=12, minute=0, second=0, microsecond=0)
            moment = date_parser.parse(words, dayfirst=True, fuzzy=False, default=noon)
    except (ValueError, OverflowError):
        return None
    if moment.tzinfo is None and now.tzinfo is not None:
        moment = moment.replace(tzinfo=now.tzinfo)
    elif moment.tzinfo is not None and now.tzinfo is None:
        moment = moment.replace(tzinfo=None)
    if now < moment <= now + timedelta(days=1):
        moment -= timedelta(days=1)  # '17:45' said at 14:30 means yesterday
    elif moment > now:
        try:
            moment = moment.replace(year=moment.year - 1)  # '12/11' said in January means last year
        except ValueError:
            return None  # 29 February a year too far: unsure
    return moment if moment <= now else None
