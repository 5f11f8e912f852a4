"""How sure a candidate is, read from its distance: the share of candidates that close that were the person.

Measured by `homeward eval review-load` (docs/evaluation/review-load.md): LFW, one photo per case, every LFW
identity a case (about 5 700), each sighting's candidates as served (top 5 by density score, dlib's within
0.574, arcface's within 0.727, both within MARGIN of the best), in bins of 0.025 of the distance, made never to
rise with distance.
Each row is (up to this distance, share that were the person). It is a rate among the evaluation's sightings, six
in ten of whom were in the register; where fewer sightings show someone missing, fewer candidates are right, so the
panel says where the figure comes from. A candidate scored by its case's template has its own table
(HOW_SURE_TEMPLATE, `homeward eval case-photos`).
"""

from __future__ import annotations

from dataclasses import dataclass

HOW_SURE: dict[str, tuple[tuple[float, float], ...]] = {
    "dlib": (  # 5721 cases, 1727 mated and 1035 non-mated sightings, 4547 candidates as served
        (0.3, 1.0), (0.35, 0.986), (0.375, 0.957), (0.4, 0.826), (0.425, 0.738), (0.45, 0.698), (0.475, 0.571),
        (0.5, 0.359), (0.525, 0.188), (0.55, 0.07), (0.6, 0.038), (0.625, 0.0),
    ),
    "arcface": (  # 5728 cases, 1728 mated and 1038 non-mated sightings, 1990 candidates as served (none past 0.726)
        (0.3, 1.0), (0.375, 0.992), (0.45, 0.988), (0.5, 0.985), (0.575, 0.938), (0.6, 0.923), (0.625, 0.765),
        (0.65, 0.562), (0.675, 0.237), (0.7, 0.037), (0.725, 0.022),
    ),
}  # fmt: skip
# The same for candidates scored by their case's template (a case of several photos, TEMPLATE_REVIEW), whose
# distances run shorter for everyone: `homeward eval case-photos --engine arcface` (docs/evaluation/review-load.md),
# cases of 2 and 3 photos pooled (1402 and 810 of the 5728 cases), 1291 mated and 1038 non-mated sightings, top 5
# as served with MARGIN, 2018 candidates, bins of 0.025 never rising with distance. None past 0.686 (the threshold).
HOW_SURE_TEMPLATE: dict[str, tuple[tuple[float, float], ...]] = {
    "arcface": ((0.45, 1.0), (0.575, 0.979), (0.6, 0.857), (0.625, 0.5), (0.65, 0.286), (0.675, 0.085), (0.7, 0.0)),
}


@dataclass(frozen=True)
class Density:
    """An engine's density rule (core/faces/matching.py pair_density, density_band), from `eval review-load`."""

    typical: float  # the median probe crowding at about 5 700 cases: keeps scores in distance units
    strong: float  # density score at or below: strong (the FNIR today's distance band has at that gallery)
    review: float | None = None  # density score at or below: a candidate at all (None: the review band decides)


# 5 7xx LFW cases: dlib's strong band precision 81.4 % by distance, 98.2 % by density at the same FNIR. Candidates
# exist by their density score too (a case of one photo, for arcface; of several, its template decides), within
# `review` and MARGIN of the sighting's best; at about 5 700 LFW cases, three draws of sightings (seeds 7, 8, 9),
# false candidates per sighting against the distance within the band, no more sightings missed at any draw:
# dlib 0.574 (set at seed 7 to its FNIR): -51, -52, -51 %; arcface 0.727 (the lowest holding today's FNIR at all
# three): -60, -59, -56 %. The distance with the margin, for arcface, missed 1-2 more sightings a draw.
DENSITY: dict[str, Density] = {"dlib": Density(0.6076, 0.4394, 0.574), "arcface": Density(0.8143, 0.5636, 0.727)}
# A candidate is kept only within this much of the review score of its sighting face's best candidate (core
# near_the_best): at most one case is the person. Each engine's in its review score's units; 0.05 to 0.08 all
# halve the false candidates on LFW (`eval review-load`, policies distance+margin and density+margin).
MARGIN: dict[str, float] = {"dlib": 0.05, "arcface": 0.05}
# Cases of several photos scored by their template (core/faces/matching.py case_distance), within this threshold
# instead of the review band's; a case of one photo keeps the band. Set on LFW (`eval case-photos`, 5 728 cases,
# docs/evaluation/review-load.md) where the template has the FNIR the closest photo has at the band (0.39 %): the
# false candidates that cases of several photos bring fall 0.152 -> 0.073 per sighting (2 photos) and
# 0.187 -> 0.083 (3, with FNIR 0.39 % -> 0.31 %). dlib is not in it: measured the same way (5 721 cases) its
# template cuts the review band's false candidates by 34 % (2 photos) and 31 % (3), short of half, so its cases
# keep the closest photo.
TEMPLATE_REVIEW: dict[str, float] = {"arcface": 0.686}
# A case's review score can be closer than its closest photo's distance (a template, or a density score among
# loners): the gallery is asked for cases whose closest photo is within the review band plus this, then each is
# scored (on LFW no arcface template within 0.686 had a photo past 0.75; no candidate within density 0.574 (dlib)
# was past 0.63, nor within 0.727 (arcface) past 0.73, seeds 7 to 9).
REACH = 0.1
SOURCE = "in Homeward's evaluation (LFW, about 5 700 cases)"
SOURCE_TEMPLATE = "in Homeward's evaluation (LFW, about 5 700 cases, 2 200 of them of 2 or 3 photos)"


def how_sure(engine: str, distance: float, template: bool = False) -> float | None:
    """The share of candidates this close that were the same person; None past the measured range.

    `template`: the distance is to a case's template (several photos), read against HOW_SURE_TEMPLATE, because the
    same distance from a template is less sure than from one photo (0.625: 1 in 4, against 2 in 3)."""
    for upto, share in (HOW_SURE_TEMPLATE if template else HOW_SURE).get(engine, ()):
        if distance <= upto:
            return share
    return None


def in_words(share: float) -> str:
    """'about 9 in 10' for a reviewer who reads a ratio faster than a percentage."""
    if share >= 0.985:
        return "almost all (99 in 100)"
    if share >= 0.95:  # not "about 10 in 10"
        return f"about {round(share * 100)} in 100"
    if share < 0.005:  # none of those measured
        return "fewer than 1 in 100"
    if share >= 0.095:
        return f"about {round(share * 10)} in 10"
    return f"about {max(1, round(share * 100))} in 100"
