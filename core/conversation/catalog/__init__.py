"""Turn a reply key and its parameters into words, in the contact's language.

Each language is a module here with a MESSAGES dict; a missing key falls
back to English, so a partial translation still works.
"""

from __future__ import annotations

import importlib
from typing import Any

from core.conversation.catalog.en import MESSAGES as ENGLISH
from core.conversation.messages import Reply

DEFAULT_LANGUAGE = "en"
LANGUAGES = ("en", "hi")  # each has a module here; the dialog offers these


def text(key: str, language: str = DEFAULT_LANGUAGE, **params: Any) -> str:
    """The sentence for `key` with its {placeholders} filled; nested replies are rendered too.

    Values go in as they are, so a name like 'Ana {0}' is just text. A
    placeholder without a value shows as '?', and a translation with a
    broken placeholder falls back to English: a reply always goes out.
    """
    values = _Values({name: _value(value, language) for name, value in params.items()})
    template = _messages(language).get(key) or ENGLISH[key]
    try:
        return template.format_map(values)
    except (ValueError, IndexError, AttributeError):
        return ENGLISH[key].format_map(values)


def render(reply: Reply, language: str = DEFAULT_LANGUAGE, extra: dict[str, Any] | None = None) -> str:
    return text(reply.key, language, **(reply.params | (extra or {})))


def _value(value: Any, language: str) -> Any:
    if isinstance(value, Reply):
        return render(value, language)
    if isinstance(value, list):
        return "\n".join(str(_value(item, language)) for item in value)
    return value


def _messages(language: str) -> dict[str, str]:
    if language == DEFAULT_LANGUAGE:
        return ENGLISH
    try:
        return importlib.import_module(f"core.conversation.catalog.{language}").MESSAGES  # type: ignore[no-any-return]
    except (ImportError, ValueError, TypeError, AttributeError):
        return ENGLISH


class _Values(dict[str, Any]):
    """Parameters for str.format_map: a missing one reads '?' instead of raising."""

    def __missing__(self, name: str) -> str:
        return "?"
