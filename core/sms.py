"""SMS segments: how a text is encoded, split and counted, and shortened to a bounded number of parts.

An SMS carries 140 bytes. Text that fits the GSM 03.38 alphabet travels as
7-bit GSM-7: 160 characters alone, 153 per part once split (the rest holds
the header that joins the parts); two characters of its extension table
(`{ } [ ] ~ \\ | ^ €`) cost two. Anything else, Hindi included, makes the
whole message UCS-2: 70 UTF-16 units alone, 67 per part. Carriers bill per
part, and Twilio advises against messages over 10 parts, so a longer text is
cut to fit with a pointer to where the rest can be read.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.conversation.catalog import text as catalogue
from core.conversation.words import script_language

GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")  # each sent as an escape plus a character: two septets
GSM7, UCS2 = "GSM-7", "UCS-2"
# (characters alone, characters per part once split), in septets for GSM-7 and UTF-16 units for UCS-2.
LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}
MAX_SEGMENTS = 10  # Twilio's advice; longer texts are shortened (see fit)
ELLIPSIS = {GSM7: "...", UCS2: "…"}  # "…" is not in the GSM alphabet: it would make a GSM-7 text UCS-2


@dataclass(frozen=True)
class Segmented:
    encoding: str  # GSM-7 or UCS-2
    parts: tuple[str, ...]  # the text as the carrier splits it; one part when it fits alone

    @property
    def segments(self) -> int:
        return len(self.parts)


def encoding(text: str) -> str:
    """GSM-7 when every character is in the GSM alphabet (or its extension), else UCS-2."""
    return GSM7 if all(ch in GSM_BASIC or ch in GSM_EXTENDED for ch in text) else UCS2


def _cost(ch: str, coding: str) -> int:
    """Septets (GSM-7) or UTF-16 units (UCS-2) one character takes."""
    if coding == GSM7:
        return 2 if ch in GSM_EXTENDED else 1
    return 2 if ord(ch) > 0xFFFF else 1


def split(text: str) -> Segmented:
    """The parts a carrier sends `text` in; an escape pair or a surrogate pair is never cut in two."""
    coding = encoding(text)
    single, per_part = LIMITS[coding]
    if sum(_cost(ch, coding) for ch in text) <= single:
        return Segmented(coding, (text,))
    parts, current, used = [], [], 0
    for ch in text:
        cost = _cost(ch, coding)
        if used + cost > per_part:
            parts.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += cost
    parts.append("".join(current))
    return Segmented(coding, tuple(parts))


def segments(text: str) -> int:
    """How many parts `text` is billed as (an empty text is still one message)."""
    return split(text).segments


def fit(text: str, pointer: str, max_segments: int = MAX_SEGMENTS) -> str:
    """`text` itself when it fits in `max_segments` parts, else its longest start that fits with `… pointer`.

    The cut falls at the end of a word where one is near, so no word arrives broken.
    """
    if segments(text) <= max_segments:
        return text
    tail = f"{ELLIPSIS[encoding(text)]}\n{pointer}"
    low, high = 0, len(text)  # the longest prefix length that fits: fits(low) holds, fits(high) does not
    while high - low > 1:
        middle = (low + high) // 2
        if segments(text[:middle].rstrip() + tail) <= max_segments:
            low = middle
        else:
            high = middle
    kept = text[:low]
    word_end = kept.rstrip().rfind(" ")
    if word_end > low * 0.9:  # a word cut near the end: drop its piece rather than send it half
        kept = kept[:word_end]
    return kept.rstrip() + tail


def as_sent(text: str) -> str:
    """The text as an SMS carries it: whole within MAX_SEGMENTS parts, else cut with a pointer in its language."""
    language = "hi" if script_language(text) == "hi" else "en"
    return fit(text, catalogue("sms_shortened", language))


def by_alphabet(text: str) -> list[str]:
    """`text` as the messages that cost least: paragraphs in the GSM alphabet apart from the others when that saves.

    One Hindi line makes a whole English text UCS-2, 67 characters a part instead of 153: the welcome's
    language hint alone turned its 4 parts into 8. Sent as two messages it costs 5.
    """
    groups: list[list[str]] = []
    for paragraph in text.split("\n\n"):
        if groups and encoding(groups[-1][-1]) == encoding(paragraph):
            groups[-1].append(paragraph)
        else:
            groups.append([paragraph])
    parts = ["\n\n".join(group) for group in groups]
    return parts if sum(segments(part) for part in parts) < segments(text) else [text]


def messages(text: str) -> list[str]:
    """What an SMS channel sends for one outbound text: shortened to MAX_SEGMENTS, then split by alphabet if cheaper."""
    return by_alphabet(as_sent(text))
