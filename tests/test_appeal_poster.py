"""An appeal's poster: the QR code opens the bot with the appeal's reference, Hindi is shaped, the PDF is A4."""

from __future__ import annotations

import io

import numpy as np
import pytest
import zxingcpp
from PIL import Image, ImageChops, ImageDraw, ImageFont

from core.appeals.links import bot_links, telegram_link, whatsapp_link
from core.appeals.poster import SIZES, PosterDetails, font_path, poster_pdf, render_poster, shaping
from core.appeals.typeset import Typesetter

LINK = telegram_link("homeward_bot", "AP-5N3Q")


def details(language: str, **changes: object) -> PosterDetails:
    name = "रवि कुमार" if language == "hi" else "Ravi Kumar"
    base = PosterDetails(
        "AP-5N3Q", name, language, LINK, "https://homeward.example/a/t0ken", 34, "Old market", "3 Dec 2026"
    )
    return PosterDetails(**(vars(base) | changes))  # type: ignore[arg-type]


def decoded(png: bytes) -> list[str]:
    return [code.text for code in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]


@pytest.mark.parametrize("language", ["en", "hi"])
@pytest.mark.parametrize("size", ["a4", "phone"])
def test_the_code_on_every_poster_opens_the_bot_with_the_appeal(language: str, size: str) -> None:
    assert shaping() in ("raqm", "harfbuzz")
    face = np.full((300, 240, 3), 90, np.uint8)
    png = render_poster(details(language), face, size)
    assert Image.open(io.BytesIO(png)).size == SIZES[size]
    assert decoded(png) == ["https://t.me/homeward_bot?start=AP-5N3Q"]


def test_links_for_each_channel() -> None:
    assert whatsapp_link("+91 98765 43210", "AP-5N3Q") == "https://wa.me/919876543210?text=AP-5N3Q"
    assert bot_links("AP-5N3Q", "@homeward_bot", "+14155238886") == [
        "https://t.me/homeward_bot?start=AP-5N3Q",
        "https://wa.me/14155238886?text=AP-5N3Q",
    ]
    assert bot_links("AP-5N3Q", "", "") == []


def test_hindi_is_shaped_not_drawn_letter_by_letter() -> None:
    """'कि': the vowel sign ि is drawn before its consonant; unshaped, it would come after it."""
    shaped = _ink("कि", ImageFont.Layout.RAQM)
    unshaped = _ink("कि", ImageFont.Layout.BASIC)
    assert ImageChops.difference(shaped, unshaped).getbbox() is not None
    # The matra's stem is the leftmost ink once shaped: the left sixth of the word holds ink from top to bottom.
    for ink in (shaped, _typeset("कि", "harfbuzz")):
        left = ink.crop((0, 0, ink.width // 6, ink.height)).getbbox()
        assert left is not None and left[3] - left[1] > ink.height * 0.5


@pytest.mark.parametrize("words", ["कि", "किसी ने देखा", "स्लेटी पतलून", "Ravi Kumar"])
def test_without_raqm_harfbuzz_draws_the_same_words(words: str) -> None:
    """Where Pillow lacks raqm (no FriBiDi on the system), HarfBuzz shapes and the outlines are filled here."""
    ours = _typeset(words, "harfbuzz")
    pillows = _typeset(words, "raqm")
    assert abs(ours.width - pillows.width) <= 3 and abs(ours.height - pillows.height) <= 3
    # Pillow hints and anti-aliases, the outlines here are filled whole: strokes a pixel apart, the same words.
    inked = np.asarray(ours.resize(pillows.size)) > 128, np.asarray(pillows) > 128
    overlap = (inked[0] & inked[1]).sum() / (inked[0] | inked[1]).sum()
    assert overlap > 0.7, f"the shapes overlap by {overlap:.0%} only"


def test_a_poster_typeset_by_harfbuzz_carries_the_same_code() -> None:
    png = render_poster(details("hi"), None, "a4", Typesetter(font_path(), "harfbuzz"))
    assert decoded(png) == [LINK]


def _ink(text: str, engine: ImageFont.Layout) -> Image.Image:
    font = ImageFont.truetype(font_path(), 80, layout_engine=engine)
    image = Image.new("L", (400, 200), 0)
    options = {"language": "hi"} if engine == ImageFont.Layout.RAQM else {}
    ImageDraw.Draw(image).text((10, 20), text, font=font, fill=255, **options)
    return image.crop(image.getbbox())


def _typeset(words: str, use: str) -> Image.Image:
    image = Image.new("RGB", (900, 200), (0, 0, 0))
    Typesetter(font_path(), use).draw(image, (10, 20), words, 60, (255, 255, 255))
    gray = image.convert("L")
    return gray.crop(gray.getbbox())


def test_the_hindi_poster_differs_from_the_english_one_where_the_words_are() -> None:
    english, hindi = render_poster(details("en"), None), render_poster(details("hi"), None)
    banner = (0, 0, SIZES["a4"][0], 150)
    assert ImageChops.difference(
        Image.open(io.BytesIO(english)).crop(banner), Image.open(io.BytesIO(hindi)).crop(banner)
    ).getbbox()


def test_what_the_family_did_not_choose_is_not_on_the_poster() -> None:
    shown = render_poster(details("en", description="Red scarf"), None)
    hidden = render_poster(details("en", age=None, place=None, seen_on=None), None)
    assert shown != hidden
    assert Image.open(io.BytesIO(hidden)).getpixel((620, 900)) == (255, 255, 255)  # no photo: paper where it goes


def test_the_pdf_is_one_a4_page() -> None:
    pdf = poster_pdf(render_poster(details("en"), None))
    assert pdf.startswith(b"%PDF")
    assert b"/MediaBox [ 0 0 595.2 841.92 ]" in pdf or b"/MediaBox [0 0 595.2 841.92]" in pdf
