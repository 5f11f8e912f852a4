"""The words people use for yes, no, menu choices and commands; one place to extend them."""

from __future__ import annotations

import re

GREETINGS = {"/start", "start", "hi", "hello", "hey", "hola", "menu", "help", "/help", "/menu"}
ERASE = {"delete my data", "erase my data", "delete everything", "/delete"}
SKIP = {"skip", "-", "no", "none", "n/a", "na", "nothing"}
DONE = {"done", "finished", "that's all", "thats all", "ready", "ok done"}
UNKNOWN = {"unknown", "not sure", "don't know", "dont know", "?"}
NOW = {"now", "just now", "right now", "skip", ""}
_YES = {"yes", "y", "yeah", "yep", "ok", "okay", "i agree", "agree", "si", "sí", "oui", "ja", "sure", "👍"}
_NO = {"no", "n", "nope", "i don't agree", "i do not agree", "don't", "non", "nein"}

MENU_CHOICES = {
    "1": "report",
    "report": "report",
    "report a missing person": "report",
    "/report": "report",
    "missing": "report",
    "2": "sighting",
    "sighting": "sighting",
    "report a sighting": "sighting",
    "/sighting": "sighting",
    "i saw someone": "sighting",
    "3": "cases",
    "my cases": "cases",
    "my reports": "cases",
    "cases": "cases",
    "reports": "cases",
    "/cases": "cases",
    "4": "erase",
    "delete": "erase",
}
# Control characters (but tab and newline) and lone surrogates, which no database or chat can carry.
_UNWANTED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def clean(text: str | None) -> str:
    """The text without control characters (NUL, escape codes) or lone surrogates; lines and tabs kept.

    What people type is stored and shown again (in replies, in the admin
    panel), so nothing invisible or unencodable goes further than this.
    """
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    return _UNWANTED.sub("", text)


def normalise(text: str) -> str:
    """Lower case, single spaces, no trailing punctuation: 'Yes!' -> 'yes'."""
    return " ".join((text or "").lower().split()).strip(" .!?,;")


def is_yes(words: str) -> bool:
    return words in _YES


def is_no(words: str) -> bool:
    return words in _NO
