"""The words people use for yes, no, menu choices and commands; one place to extend them."""

from __future__ import annotations

import re
import unicodedata


def _forms(*words: str) -> frozenset[str]:
    """The words as normalise() leaves them (NFC), so 'ड़' typed either way matches."""
    return frozenset(unicodedata.normalize("NFC", word) for word in words)


# English first, then Hindi (Devanagari and the common romanised spellings).
GREETINGS = _forms(
    "/start", "start", "hi", "hello", "hey", "hola", "menu", "help", "/help", "/menu",
    "नमस्ते", "नमस्कार", "मदद", "सहायता", "मेनू", "हेलो", "हैलो", "namaste",
)  # fmt: skip
CANCEL = _forms("cancel", "रद्द", "रद्द करें", "रद्द करो", "रद्द कीजिए")
ERASE = _forms(
    "delete my data", "erase my data", "delete everything", "/delete",
    "मेरा डेटा मिटाएं", "मेरा डेटा मिटाएँ", "मेरा डेटा मिटाओ", "मेरा डेटा हटाएं", "मेरा डेटा हटाएँ",
)  # fmt: skip
ERASE_CONFIRM = _forms("delete", "yes", "delete my data", "erase", "मिटाएं", "मिटाएँ", "मिटाओ", "हटाएं", "हटाएँ")
SKIP = _forms("skip", "-", "no", "none", "n/a", "na", "nothing", "छोड़ें", "छोड़ो", "छोड़िए", "नहीं", "नही", "कुछ नहीं")
DONE = _forms(
    "done", "finished", "that's all", "thats all", "ready", "ok done",
    "हो गया", "हो गई", "बस", "बस इतना", "पूरा हुआ", "खत्म", "ख़त्म",
)  # fmt: skip
UNKNOWN = _forms(
    "unknown", "not sure", "don't know", "dont know", "?", "पता नहीं", "नहीं पता", "मालूम नहीं", "नहीं मालूम", "अज्ञात"
)
NOW = _forms("now", "just now", "right now", "skip", "", "अभी", "अभी अभी", "छोड़ें")
_YES = _forms(
    "yes", "y", "yeah", "yep", "ok", "okay", "i agree", "agree", "si", "sí", "oui", "ja", "sure", "👍",
    "हाँ", "हां", "हा", "जी", "जी हाँ", "जी हां", "हाँ जी", "हां जी", "ठीक है", "सहमत", "मैं सहमत हूँ", "मैं सहमत हूं",
    "haan", "haa", "han", "ji",
)  # fmt: skip
_NO = _forms(
    "no", "n", "nope", "i don't agree", "i do not agree", "don't", "non", "nein",
    "नहीं", "नही", "ना", "असहमत", "मैं सहमत नहीं हूँ", "मैं सहमत नहीं हूं", "nahi", "nahin", "naa",
)  # fmt: skip
# A language command: 'language hi', 'भाषा हिंदी'; a bare 'language' lists the choices, a bare 'भाषा' means Hindi.
LANGUAGE_COMMANDS = _forms("language", "/language", "lang", "भाषा")
LANGUAGE_NAMES = {
    "en": "en", "english": "en", "अंग्रेज़ी": "en", "अंग्रेजी": "en", "इंग्लिश": "en",
    "hi": "hi", "hindi": "hi", "हिंदी": "hi", "हिन्दी": "hi",
}  # fmt: skip
LANGUAGE_NAMES = {unicodedata.normalize("NFC", name): code for name, code in LANGUAGE_NAMES.items()}

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
    "लापता": "report",
    "गुमशुदा": "report",
    "रिपोर्ट": "report",
    "देखा": "sighting",
    "मैंने किसी को देखा": "sighting",
    "मेरी रिपोर्ट": "cases",
    "मेरी रिपोर्टें": "cases",
    "मिटाएं": "erase",
    "मिटाएँ": "erase",
}
MENU_CHOICES = {unicodedata.normalize("NFC", words): choice for words, choice in MENU_CHOICES.items()}
# Control characters (but tab and newline) and lone surrogates, which no database or chat can carry;
# and bidirectional controls (marks, embeddings, overrides, isolates), which would reverse every text
# a typed name is later shown in: a question, a summary, the panel.
_UNWANTED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean(text: str | None) -> str:
    """The text without control characters (NUL, escape codes, bidi overrides) or lone surrogates; lines and tabs kept.

    What people type is stored and shown again (in replies, in the admin
    panel), so nothing invisible or unencodable goes further than this.
    """
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    return _UNWANTED.sub("", text)


def normalise(text: str) -> str:
    """Lower case, single spaces, no trailing punctuation, composed Unicode: 'Yes!' -> 'yes', 'हाँ।' -> 'हाँ'."""
    return unicodedata.normalize("NFC", " ".join((text or "").lower().split()).strip(" .!?,;।"))


def is_yes(words: str) -> bool:
    return words in _YES


def is_no(words: str) -> bool:
    return words in _NO


def language_command(words: str) -> str | None:
    """'language hi' -> 'hi'; a bare 'language' -> '' (list the choices); a bare 'भाषा' -> 'hi'; None otherwise.

    An unknown language name also gives '': the answer lists what there is.
    """
    command, _, rest = words.partition(" ")
    if command not in LANGUAGE_COMMANDS:
        return None
    if not rest:
        return "hi" if command == "भाषा" else ""
    return LANGUAGE_NAMES.get(rest.strip(), "")


def script_language(text: str) -> str | None:
    """The language a message's letters suggest: Devanagari -> 'hi', Latin letters -> 'en', else None."""
    if any("\u0900" <= ch <= "\u097f" for ch in text):
        return "hi"
    if any(ch.isascii() and ch.isalpha() for ch in text):
        return "en"
    return None
