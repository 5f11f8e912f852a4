"""Times as MongoDB gives them back: naive unless the client asks otherwise, and always UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(moment: datetime) -> datetime:
    """The moment on the UTC clock, so a stored time compares with `datetime.now(UTC)`."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
