"""How an SMS is encoded, split into billed parts, and shortened: pure functions of core/sms.py."""

from __future__ import annotations

import pytest

from core.sms import GSM7, MAX_SEGMENTS, UCS2, by_alphabet, encoding, fit, segments, split

HINDI = "आपकी रिपोर्ट दर्ज हो गई है। "  # 28 characters, all in the BMP


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Your report is registered: HW-7K3P", GSM7),
        ("Prix: 5€ {ok} [x] ~ | ^ \\", GSM7),  # the extension table is still GSM-7
        ("Ünïcode, café, Ñ", UCS2),  # ï is not in the GSM alphabet
        ("Straße, Åse, Ø", GSM7),
        (HINDI, UCS2),
        ("smile 🙂", UCS2),
        ("typographic ‘quotes’", UCS2),
    ],
)
def test_the_encoding_follows_the_gsm_alphabet(text: str, expected: str) -> None:
    assert encoding(text) == expected


@pytest.mark.parametrize(
    ("length", "expected"), [(0, 1), (1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (1530, 10), (1531, 11)]
)
def test_gsm7_is_160_alone_and_153_a_part(length: int, expected: int) -> None:
    assert segments("a" * length) == expected


@pytest.mark.parametrize(("length", "expected"), [(70, 1), (71, 2), (134, 2), (135, 3), (670, 10), (671, 11)])
def test_ucs2_is_70_alone_and_67_a_part(length: int, expected: int) -> None:
    assert segments("क" * length) == expected


def test_one_character_outside_the_alphabet_makes_the_whole_text_ucs2() -> None:
    assert segments("a" * 100) == 1
    assert segments("a" * 99 + "क") == 2  # 100 characters: over UCS-2's 70


def test_an_extension_character_counts_twice_and_is_never_cut_from_its_escape() -> None:
    assert segments("€" * 80) == 1  # 160 septets
    assert segments("€" * 81) == 2
    parts = split("a" * 152 + "€" + "b" * 10).parts
    assert parts[0] == "a" * 152 and parts[1].startswith("€")  # 152 + 2 would be 154 septets: the € moves on


def test_an_emoji_is_two_units_and_stays_whole() -> None:
    assert segments("🙂" * 35) == 1
    parts = split("a" * 66 + "🙂" + "b" * 10).parts  # 78 units: two parts, and 66 + 2 would be 68 in the first
    assert parts == ("a" * 66, "🙂" + "b" * 10)


def test_the_parts_join_back_into_the_text() -> None:
    text = HINDI * 30
    cut = split(text)
    assert cut.encoding == UCS2 and "".join(cut.parts) == text and all(len(p) <= 67 for p in cut.parts)


def test_a_text_that_fits_is_left_alone() -> None:
    text = "x" * 1530
    assert fit(text, "Reply STATUS") == text


def test_hindi_over_ten_segments_is_shortened_with_the_pointer() -> None:
    text = HINDI * 40  # 1 120 characters: 17 parts of 67
    assert segments(text) == 17
    pointer = "पूरा संदेश WhatsApp पर पढ़ें।"
    short = fit(text, pointer)
    assert segments(short) == MAX_SEGMENTS and short.endswith("…\n" + pointer)
    assert text.startswith(short.removesuffix("…\n" + pointer))


def test_an_english_text_is_cut_at_a_word_with_a_gsm_ellipsis() -> None:
    text = "word " * 400
    short = fit(text, "Reply STATUS HW-7K3P for the rest.")
    assert segments(short) <= MAX_SEGMENTS and encoding(short) == GSM7
    assert short.endswith("word...\nReply STATUS HW-7K3P for the rest.")


def test_a_hindi_line_in_an_english_text_goes_apart_when_that_costs_fewer_segments() -> None:
    english = "Hello, this is Homeward. We help families find missing people. " * 6  # ~380 characters
    hint = "हिंदी में बात करने के लिए 'भाषा' लिखें।"
    parts = by_alphabet(f"{english}\n\n{hint}")
    assert parts == [english, hint]
    assert sum(segments(p) for p in parts) == 3 + 1 < segments(f"{english}\n\n{hint}")  # 3 GSM-7 + 1, not 7 UCS-2
    short = f"Reply yes or no.\n\n{hint}"  # one UCS-2 part either way: kept as one message
    assert by_alphabet(short) == [short]
