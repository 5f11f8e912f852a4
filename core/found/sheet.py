"""A bulk import's CSV, read as people export spreadsheets: each row a FoundPerson or a reason it cannot be one.

Pure: it takes the file's bytes. The encoding (UTF-8 with or without BOM,
UTF-16 with BOM, else Latin-1) and the separator (`;` or `,`) are detected
and reported; headers are matched whatever their case and spacing; dates are
read as `2026-12-01`, `01/12/2026` (day first) or `1 Dec 2026`. Line numbers
are the spreadsheet's row numbers (the header is row 1), so an operator finds
the row a rejection names.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from core.found.record import CONDITIONS, GENDERS, MAX_PHOTOS, FoundPerson, InvalidRecord
from core.found.record import FIELDS as RECORD_FIELDS

# The CSV's columns: the organisation's id first (what a re-import recognises a row by), then the record, then photos.
COLUMNS = ("external_id", *(name for name in RECORD_FIELDS if name != "external_id"), "photos")
REQUIRED = ("external_id", "found_on", "condition", "photos")
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%d %b %Y", "%d %B %Y", "%d/%m/%y")
# Spelled as registers often spell them; anything else is refused (a guess would be worse than asking).
GENDER_WORDS = {"f": "female", "m": "male", "": "unknown", "u": "unknown"}
MAX_ROWS = 50_000


class UnreadableSheet(ValueError):
    """The file as a whole cannot be imported (no header, a required column missing); the message says what to fix."""


@dataclass(frozen=True)
class Rejection:
    line: int
    external_id: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "external_id": self.external_id, "reason": self.reason}


@dataclass(frozen=True)
class SheetRow:
    line: int
    record: FoundPerson
    photos: tuple[str, ...]  # file names as written in the `photos` column


@dataclass
class Sheet:
    encoding: str
    separator: str
    rows: list[SheetRow] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


def decode(data: bytes) -> tuple[str, str]:
    """The text and the name of the encoding it was read in."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace"), "utf-8-bom"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise UnreadableSheet(f"the file starts as UTF-16 but is not: {exc}; save it again as CSV UTF-8") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def separator_of(text: str) -> str:
    """`;` when the header has more of them than commas (spreadsheets in many locales), else `,`."""
    header = text.split("\n", 1)[0]
    return ";" if header.count(";") > header.count(",") else ","


def column_name(header: str) -> str:
    """`External ID`, ` external_id `, `EXTERNAL-ID` are all `external_id`."""
    return re.sub(r"[\s\-]+", "_", header.strip().lower())


def read_sheet(data: bytes) -> Sheet:
    """Every row of the file, read or rejected; raise UnreadableSheet when the file itself cannot be read."""
    text, encoding = decode(data)
    text = text.replace("\x00", "")
    separator = separator_of(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    try:
        header = next(reader)
    except StopIteration:
        raise UnreadableSheet("the file is empty: the first row names the columns") from None
    except csv.Error as exc:
        raise UnreadableSheet(f"the header cannot be read as CSV: {exc}") from None
    names = [column_name(h) for h in header]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise UnreadableSheet(
            f"column(s) {', '.join(missing)} missing (found: {', '.join(names) or 'none'}); "
            f"the first row must name the columns {', '.join(COLUMNS)}"
        )
    sheet = Sheet(encoding, separator)
    seen: set[str] = set()
    try:
        for line, cells in enumerate(reader, start=2):
            if line - 1 > MAX_ROWS:
                raise UnreadableSheet(f"more than {MAX_ROWS} rows: split the file")
            if not any(cell.strip() for cell in cells):
                continue
            values = {name: cells[i].strip() if i < len(cells) else "" for i, name in enumerate(names)}
            _add_row(sheet, line, values, seen)
    except csv.Error as exc:
        raise UnreadableSheet(f"row {reader.line_num} cannot be read as CSV: {exc}") from None
    return sheet


def _add_row(sheet: Sheet, line: int, values: dict[str, str], seen: set[str]) -> None:
    external_id = values["external_id"]
    if not external_id:
        sheet.rejected.append(Rejection(line, "", "external_id is empty: each row needs the organisation's own id"))
        return
    if external_id in seen:
        sheet.rejected.append(Rejection(line, external_id, f"external_id {external_id} is on an earlier row too"))
        return
    seen.add(external_id)
    try:
        record, photos = parse_row(values)
    except InvalidRecord as exc:
        sheet.rejected.append(Rejection(line, external_id, str(exc)))
        return
    sheet.rows.append(SheetRow(line, record, photos))


def parse_row(values: dict[str, str], today: date | None = None) -> tuple[FoundPerson, tuple[str, ...]]:
    """One row's record and photo names; InvalidRecord naming the field otherwise."""
    photos = tuple(dict.fromkeys(name.strip() for name in values.get("photos", "").split(";") if name.strip()))
    if not photos:
        raise InvalidRecord(f"photos is empty: name 1 to {MAX_PHOTOS} photo files separated by ;")
    if len(photos) > MAX_PHOTOS:
        raise InvalidRecord(f"photos names {len(photos)} files: at most {MAX_PHOTOS}")
    record = FoundPerson(
        found_on=parse_date(values["found_on"], today),
        found_place=values.get("found_place", ""),
        held_at=values.get("held_at", ""),
        age_min=_age(values.get("age_min", ""), "age_min"),
        age_max=_age(values.get("age_max", ""), "age_max"),
        gender=_gender(values.get("gender", "")),
        condition=_condition(values.get("condition", "")),
        description=values.get("description", ""),
        external_id=values["external_id"],
    )
    return record, photos


def parse_date(text: str, today: date | None = None) -> date:
    """`2026-12-01`, `01/12/2026` (day first, as most of the world writes it) or `1 Dec 2026`."""
    cleaned = " ".join(text.replace(",", " ").split())
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(cleaned, pattern).date()
        except ValueError:
            continue
    raise InvalidRecord(f"found_on {text!r} is not a date: write 2026-12-01, 01/12/2026 (day first) or 1 Dec 2026")


def _age(text: str, name: str) -> int | None:
    if not text:
        return None
    try:
        return int(float(text))
    except ValueError:
        raise InvalidRecord(f"{name} {text!r} is not a number of years") from None


def _gender(text: str) -> str:
    word = text.lower()
    gender = GENDER_WORDS.get(word, word)
    if gender not in GENDERS:
        raise InvalidRecord(f"gender {text!r} is not one of {', '.join(GENDERS)} (leave it empty when not known)")
    return gender


def _condition(text: str) -> str:
    """Required: a deceased person's photos are never sent to a family, so it is never guessed."""
    word = text.lower()
    if word not in CONDITIONS:
        raise InvalidRecord(f"condition {text!r} is not one of {', '.join(CONDITIONS)}")
    return word
