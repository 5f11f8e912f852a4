"""Parse "when was this?" answers: 'yesterday 5pm', '12/11', '2 days ago', 'now'.

Always keep the person's own words; the parsed time is a best effort used
for sorting and the lookback window, and is None when unsure.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from dateutil import parser as date_parser

_AGO = re.compile(r"(\d+|an?|one|two|three)\s*(minute|min|hour|hr|day|week|month)s?\s+ago", re.I)
_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3}
_UNITS = {"minute": 60, "min": 60, "hour": 3600, "hr": 3600, "day": 86400, "week": 604800, "month": 2592000}
_CLOCK = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\b", re.I)
_DAY_WORDS = {"today": 0, "tonight": 0, "this morning": 0, "this afternoon": 0, "this evening": 0, "yesterday": 1, "last night": 1}
_PART_OF_DAY = {"morning": 9, "afternoon": 15, "evening": 19, "tonight": 21, "night": 22}


def parse_when(text: str, now: datetime) -> datetime | None:
    """Best guess at the moment `text` describes, never in the future; None when unsure."""
    words = " ".join((text or "").lower().split())
    if not words:
        return None
    if words in ("now", "just now", "right now"):
        return now
    if match := _AGO.search(words):
        amount = _WORDS.get(match.group(1).lower()) or int(match.group(1))
        return now - timedelta(seconds=amount * _UNITS[match.group(2).lower()])
    for phrase, days_back in _DAY_WORDS.items():
        if phrase in words:
            return _on_day(now - timedelta(days=days_back), words.replace(phrase, " "), phrase)
    return _absolute(words, now)


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
        # Day first: '12/11' is 12 November, as most of the world writes it.
        moment = date_parser.parse(words, dayfirst=True, fuzzy=False, default=now.replace(hour=12, minute=0, second=0, microsecond=0))
    except (ValueError, OverflowError):
        return None
    if moment.tzinfo is None and now.tzinfo is not None:
        moment = moment.replace(tzinfo=now.tzinfo)
    if now < moment <= now + timedelta(days=1):
        moment -= timedelta(days=1)  # '17:45' said at 14:30 means yesterday
    elif moment > now:
        moment = moment.replace(year=moment.year - 1)  # '12/11' said in January means last year
    return moment if moment <= now else None
