"""A small bundled list of cities with their centres, so a volunteer may type a city instead of sharing a pin.

Only places people commonly type, in English and Hindi; anything else is answered "share your location
instead" (a guessed town could be the wrong one). Coordinates are city centres, rounded to 0.01°.
"""

from __future__ import annotations

import re

CITIES: dict[str, tuple[float, float]] = {
    "delhi": (28.61, 77.21), "new delhi": (28.61, 77.21), "दिल्ली": (28.61, 77.21), "नई दिल्ली": (28.61, 77.21),
    "mumbai": (19.08, 72.88), "bombay": (19.08, 72.88), "मुंबई": (19.08, 72.88),
    "kolkata": (22.57, 88.36), "calcutta": (22.57, 88.36), "कोलकाता": (22.57, 88.36),
    "chennai": (13.08, 80.27), "madras": (13.08, 80.27), "चेन्नई": (13.08, 80.27),
    "bengaluru": (12.97, 77.59), "bangalore": (12.97, 77.59), "बेंगलुरु": (12.97, 77.59),
    "hyderabad": (17.39, 78.49), "हैदराबाद": (17.39, 78.49),
    "ahmedabad": (23.02, 72.57), "अहमदाबाद": (23.02, 72.57),
    "pune": (18.52, 73.86), "पुणे": (18.52, 73.86),
    "jaipur": (26.91, 75.79), "जयपुर": (26.91, 75.79),
    "lucknow": (26.85, 80.95), "लखनऊ": (26.85, 80.95),
    "kanpur": (26.45, 80.33), "कानपुर": (26.45, 80.33),
    "patna": (25.59, 85.14), "पटना": (25.59, 85.14),
    "bhopal": (23.26, 77.41), "भोपाल": (23.26, 77.41),
    "indore": (22.72, 75.86), "इंदौर": (22.72, 75.86),
    "nagpur": (21.15, 79.09), "नागपुर": (21.15, 79.09),
    "varanasi": (25.32, 82.97), "वाराणसी": (25.32, 82.97),
    "prayagraj": (25.44, 81.85), "allahabad": (25.44, 81.85), "प्रयागराज": (25.44, 81.85),
    "agra": (27.18, 78.01), "आगरा": (27.18, 78.01),
    "chandigarh": (30.73, 76.78), "चंडीगढ़": (30.73, 76.78),
    "guwahati": (26.14, 91.74), "गुवाहाटी": (26.14, 91.74),
    "surat": (21.17, 72.83), "सूरत": (21.17, 72.83),
    "ranchi": (23.34, 85.31), "रांची": (23.34, 85.31),
    "dehradun": (30.32, 78.03), "देहरादून": (30.32, 78.03),
    "haridwar": (29.95, 78.16), "हरिद्वार": (29.95, 78.16),
    "amritsar": (31.63, 74.87), "अमृतसर": (31.63, 74.87),
}  # fmt: skip


def city(typed: str) -> tuple[str, tuple[float, float]] | None:
    """The bundled city a typed name means (case and spacing aside), with its centre; None if not bundled."""
    name = " ".join(typed.lower().split())
    return (name, CITIES[name]) if name in CITIES else None


def city_choices() -> list[tuple[str, str]]:
    """One (name, label) per bundled city, its first spelling (English) standing for its aliases: a panel's list."""
    seen: dict[tuple[float, float], str] = {}
    for name, centre in CITIES.items():
        seen.setdefault(centre, name)
    return sorted(((name, name.title()) for name in seen.values()), key=lambda choice: choice[1])


def named_city(typed: str) -> str | None:
    """The bundled city a typed place names among its words ("Old market, Delhi" → "delhi"), or None.

    The longest name wins ("New Delhi" over "Delhi"); the answer is the city's first spelling, as `city_choices`.
    """
    words = [word for word in re.split(r"[\s,.;:!?।()/\-]+", typed.lower()) if word]
    for length in (2, 1):
        for start in range(len(words) - length + 1):
            centre = CITIES.get(" ".join(words[start : start + length]))
            if centre is not None:
                return next(name for name, at in CITIES.items() if at == centre)
    return None
