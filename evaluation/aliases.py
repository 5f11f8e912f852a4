"""One person, one identity: LFW's known second names and mislabelled photos.

LFW files a few people under two names and a few photos under the wrong
name. Open-set identification then counts a "stranger" who finds himself
under his other name as a false positive: a protocol error, not the engine's.
LFW publishes no errata file with the data (`lfw-protocol/` has none), so
every entry below was checked by looking at the photos (2026-11-23), after
the arcface embeddings put them closest among different names (cosine
distance under 0.38 across all of LFW, and the closest non-mated searches
of seeds 7, 8 and 9). Twins (the Olsens, the Mowrys) and people sharing a
surname and a likeness (Carolina and Isabela Moraes, Claire and Morgan
Hentzen) stay apart; pairs that merely look alike (Shinya_Taniguchi /
Takahiro_Mori, John_Barnett / John_Burnett, Shavon_Earp / Diana_Taurasi,
Harold_Scott / Jeff_Roehm) are left out until someone can tell.
"""

from __future__ import annotations

# A whole LFW identity that is another identity's second name -> the name kept.
SECOND_NAMES: dict[str, str] = {
    "Sung_Hong_Choi": "Choi_Sung-hong",  # name order
    "Dai_Chul_Chyung": "Chyung_Dai-chul",  # name order
    "Nan_Wang": "Wang_Nan",  # name order (the table-tennis player)
    "Noer_Moeis": "Noer_Muis",  # spelling
    "Hasan_Wirayuda": "Hassan_Wirajuda",  # spelling
    "Joseph_Blatter": "Sepp_Blatter",  # Joseph S. "Sepp" Blatter
    "Glenn_Rivers": "Doc_Rivers",  # Glenn "Doc" Rivers
    "Brian_Williams": "Bison_Dele",  # the basketball player, born Brian Williams (the photo is him)
    "Yingfan_Wang": "Wang_Yingfan",  # name order
    "Prince_Felipe": "Felipe_De_Borbon",  # Felipe de Borbon, then Prince of Asturias
    "Odai_Hussein": "Uday_Hussein",  # transliteration
    "Stephen_Ebberharter": "Stephan_Eberharter",  # misspelling (the skier)
}

# A single photo filed under the wrong name -> the identity it shows.
PHOTOS: dict[str, str] = {
    "Carlos_Ruckauf/Carlos_Ruckauf_0001.jpg": "Eduardo_Duhalde",  # Duhalde, as his own 14 photos show
    "Michael_Schumacher/Michael_Schumacher_0008.jpg": "Rubens_Barrichello",  # his teammate, as Barrichello's 12 show
    # The same picture filed under two names: one of them is wrong, LFW does not say which; one person either way.
    "Raul_Ibanez/Raul_Ibanez_0001.jpg": "Carlos_Beltran",
    "Ricky_Ray/Ricky_Ray_0001.jpg": "Bart_Hendricks",
    "Eva_Amurri/Eva_Amurri_0001.jpg": "Emmy_Rossum",
    "Andrew_Gilligan/Andrew_Gilligan_0001.jpg": "Andrew_Caldecott",
    "Gabrielle_Rose/Gabrielle_Rose_0001.jpg": "Martha_Bowen",  # the same picture as Martha_Bowen_0002
}


def merge(people: dict[str, list[str]]) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Identity -> photos with the aliases applied, and how many photos moved and identities vanished.

    The kept identity's own photos come first (its first photo stays the case's photo), then the
    photos it gains in name order; an identity left without photos disappears. Entries naming
    people absent from `people` (another data set, a subset) are ignored.
    """
    merged: dict[str, list[str]] = {name: [] for name in people}
    moved = 0
    for name in sorted(people):
        for photo in people[name]:
            owner = PHOTOS.get(photo, SECOND_NAMES.get(name, name))
            if owner not in people:
                owner = name
            moved += owner != name
            merged[owner].append(photo)
    for name, photos in merged.items():
        own = [p for p in photos if p.startswith(f"{name}/")]
        merged[name] = own + [p for p in photos if not p.startswith(f"{name}/")]
    kept = {name: photos for name, photos in merged.items() if photos}
    return kept, {"photos_moved": moved, "identities_merged": len(people) - len(kept)}
