"""Per-chat flood control: a polite notice once, then silence until the minute is over."""

from __future__ import annotations


def rate_decision(count_this_minute: int, limit: int) -> str:
    """process, notice (the first message over the limit), or drop."""
    if count_this_minute <= limit:
        return "process"
    return "notice" if count_this_minute == limit + 1 else "drop"


def rate_key(contact: str) -> str:
    """Where the contact's messages of the last minute are counted (a Redis sorted set by time); erasure deletes it."""
    return f"rate:{contact}"
