"""What the dialog reads and returns: conversation state, context, effects, outcome.

State is plain data kept in MongoDB, so any process can continue any
conversation. Effects are requests the dialog makes of the outside world
(store a photo, create a case); workers carry them out and may return
values (a new reference) that replies then show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from core.conversation.messages import Attachment, Reply

MAX_PHOTOS = 5


@dataclass(frozen=True)
class State:
    consent: bool = False
    asked_consent: bool = False
    flow: str | None = None  # report, sighting, add_photo, erase
    step: str | None = None
    draft: dict[str, Any] = field(default_factory=dict)
    language: str | None = None  # the catalogue the contact reads; None until a message shows it

    def to_doc(self) -> dict[str, Any]:
        return {
            "consent": self.consent,
            "asked_consent": self.asked_consent,
            "flow": self.flow,
            "step": self.step,
            "draft": self.draft,
            "language": self.language,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> State:
        doc = doc or {}
        return cls(
            doc.get("consent", False),
            doc.get("asked_consent", False),
            doc.get("flow"),
            doc.get("step"),
            dict(doc.get("draft") or {}),
            doc.get("language") if isinstance(doc.get("language"), str) else None,
        )

    def at(self, flow: str | None, step: str | None, **draft: Any) -> State:
        """This state moved to another step, with draft fields added."""
        return replace(self, flow=flow, step=step, draft=self.draft | draft)

    def idle(self) -> State:
        return replace(self, flow=None, step=None, draft={})


@dataclass(frozen=True)
class CaseSummary:
    reference: str
    name: str
    status: str  # open or closed
    created: str  # a date as people read it
    photos: int
    faces: int = 0  # photos in which a usable face was found: an appeal needs one
    appeal: str | None = None  # the appeal asked for or running (AP-…), if any
    organisation: str | None = None  # an organisation registered it and this family follows it: theirs to change

    @property
    def shown_status(self) -> str:
        """What the family reads: open, closed, or awaiting_photo (open with no photo yet, e.g. reported by SMS)."""
        return "awaiting_photo" if self.status == "open" and not self.photos else self.status


@dataclass(frozen=True)
class Context:
    """What the dialog may know besides the message: the time, the contact's own reports, their draft's photos."""

    now: datetime
    # The contact's reports, or how to look them up: most messages never need them, so the worker passes a lookup
    # that runs only when the dialog asks (`own_cases()`), once.
    cases: tuple[CaseSummary, ...] | Callable[[], tuple[CaseSummary, ...]] = ()
    max_photo_bytes: int = 15 * 1024 * 1024
    photo_place: bool = False  # a photo of the sighting being written carries the GPS place where it was taken
    text_only: bool = False  # the channel carries no photos (SMS): a report is kept awaiting one
    scanned: tuple[str, str] | None = (
        None  # an appeal named in the message (AP-…) and its state: active, ended, unknown
    )
    # The contact gets alerts of appeals near them (`stop` ends them); or how to look it up, as for `cases`.
    volunteer: bool | Callable[[], bool] = False
    _looked_up: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def own_cases(self) -> tuple[CaseSummary, ...]:
        return self._look_up("cases")  # type: ignore[no-any-return]

    def is_volunteer(self) -> bool:
        return bool(self._look_up("volunteer"))

    def case(self, reference: str) -> CaseSummary | None:
        return next((c for c in self.own_cases() if c.reference == reference), None)

    def _look_up(self, name: str) -> Any:
        if name not in self._looked_up:
            given = getattr(self, name)
            self._looked_up[name] = given() if callable(given) else given
        return self._looked_up[name]


# Effects -------------------------------------------------------------------


@dataclass(frozen=True)
class RecordConsent:
    given: bool


@dataclass(frozen=True)
class StorePhoto:
    """Download and keep a photo: in the draft (report or sighting in progress) or for a case."""

    attachment: Attachment
    number: int  # its number in this report or sighting, for the feedback message
    purpose: str  # case or sighting: what feedback fits (a sighting may hold several faces)
    name: str = ""  # the missing person's name, for feedback on case photos
    case_reference: str | None = None  # None: the draft


@dataclass(frozen=True)
class DiscardDraft:
    """Forget the photos of an unfinished report or sighting."""


@dataclass(frozen=True)
class CreateCase:
    details: dict[str, Any]  # name, age, gender, place, time_text, time, description


@dataclass(frozen=True)
class CreateSighting:
    details: dict[str, Any]  # place, time_text, time, note
    use_photo_place: bool = False  # the sender agreed that their photo's GPS place be the sighting's


@dataclass(frozen=True)
class CloseCase:
    reference: str


@dataclass(frozen=True)
class EraseContact:
    """Delete everything this contact sent: cases, sightings, photos, faces, messages, state."""


@dataclass(frozen=True)
class RequestAppeal:
    """Ask a reviewer for a public appeal of the contact's case, showing what the family chose."""

    case_reference: str
    choices: dict[str, Any]  # photo (bool), full_name (bool), age (bool), place (bool), description (str | None)


@dataclass(frozen=True)
class WithdrawAppeal:
    reference: str  # AP-…


@dataclass(frozen=True)
class BecomeVolunteer:
    """Keep (or replace) the contact's alert area: place with coordinates, radius_km, quiet hours, cap a week."""

    details: dict[str, Any]


@dataclass(frozen=True)
class StopVolunteering:
    """No more alerts: the volunteer's record and their alerts not yet sent go at once."""


Effect = (
    RecordConsent | StorePhoto | DiscardDraft | CreateCase | CreateSighting | CloseCase | EraseContact
    | RequestAppeal | WithdrawAppeal | BecomeVolunteer | StopVolunteering
)  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    state: State
    replies: list[Reply] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
