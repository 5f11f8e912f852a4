"""Short references people read aloud and type on phones: HW-7K3P for cases, SG-4M9T for sightings, FP-2R8D for
found persons, AP-5N3Q for
public appeals.

The alphabet leaves out 0/O, 1/I/L and U, so a reference survives being
read over the phone or copied by hand.
"""

from __future__ import annotations

import re

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
CASE_PREFIX, SIGHTING_PREFIX, FOUND_PREFIX, APPEAL_PREFIX = "HW", "SG", "FP", "AP"
LENGTH = 4
# An appeal's reference needs its separator: 'appeal' itself would otherwise read as AP-PEAL.
_PATTERN = re.compile(r"\b(HW|SG|FP|AP(?=[\s\-_]))[\s\-_]*([0-9A-Z]{4})\b", re.IGNORECASE)
_LOOKALIKES = str.maketrans({"0": "O", "O": "O", "1": "I", "I": "I", "L": "I"})


def make_reference(prefix: str, random_bytes: bytes) -> str:
    """A reference from LENGTH random bytes (the caller supplies them, so this stays pure)."""
    if len(random_bytes) < LENGTH:
        raise ValueError(f"need {LENGTH} random bytes")
    return f"{prefix}-" + "".join(ALPHABET[b % len(ALPHABET)] for b in random_bytes[:LENGTH])


def find_reference(text: str, prefix: str = CASE_PREFIX) -> str | None:
    """The first reference of that kind in free text, normalised ('hw 7k3p' -> 'HW-7K3P')."""
    for match in _PATTERN.finditer(text or ""):
        if match.group(1).upper() == prefix:
            return f"{prefix}-{match.group(2).upper()}"
    return None
