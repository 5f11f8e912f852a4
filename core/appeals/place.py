"""Where an appeal's volunteers are measured from: the case's shared location, else the city a reviewer chose.

A typed last-seen place has no coordinates (no gazetteer guesses a town), so at approval a reviewer picks the
bundled city it is in (core/cities.py), or none; the appeal records the choice as `city` ("" for none).
"""

from __future__ import annotations

from typing import Any

from core.cities import CITIES
from core.places import coordinates


def appeal_place(case: dict[str, Any], appeal: dict[str, Any]) -> tuple[float, float] | None:
    """The point volunteers' areas must hold; None when there is none (a typed place and no city chosen)."""
    return coordinates(case.get("place")) or CITIES.get(appeal.get("city") or "")
