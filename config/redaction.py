"""Settings that print without their secrets: a traceback or a log line may show a settings object.

A dataclass field marked `field(metadata=SECRET)` is shown as "***"; one marked `field(metadata=URL)` is shown
without the password the URL may carry.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import fields

SECRET = {"secret": True}
URL = {"url": True}
_URL_PASSWORD = re.compile(r"(://[^/?#@:]*:)[^/?#]*@")
_QUERY_PASSWORD = re.compile(r"(?i)(password=)[^&#]*")


def redacted_url(url: str) -> str:
    """The URL without its password (user:password@ or ?password=), for logs and reprs."""
    return _QUERY_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1***@", url))


class Redacted:
    """A dataclass repr with no secret in it: a traceback or a log line may print the settings."""

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={_shown(getattr(self, f.name), f.metadata)!r}" for f in fields(self) if f.repr)  # type: ignore[arg-type]
        return f"{type(self).__name__}({shown})"


def _shown(value: object, metadata: Mapping[str, bool]) -> object:
    if value is None:
        return None
    if metadata.get("secret"):
        return _Hidden()
    if metadata.get("url") and isinstance(value, str):
        return redacted_url(value)
    return value


class _Hidden:
    def __repr__(self) -> str:
        return "***"
