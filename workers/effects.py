"""Carry out what the dialog asked for. Each effect is safe to repeat after a crash."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.channels import MediaTooLarge
from core.conversation.messages import Inbound, Reply, contacts_acting_as
from core.conversation.state import (
    BecomeVolunteer,
    CloseCase,
    CreateCase,
    CreateSighting,
    DiscardDraft,
    Effect,
    EraseContact,
    RecordConsent,
    RequestAppeal,
    StopVolunteering,
    StorePhoto,
    WithdrawAppeal,
)
from core.faces.sender import PhotoSender
from services import appeals
from services.partner_cases import family_consented
from services.partner_events import case_closed
from services.queue import enqueue_photo_analysis, match_when_owned
from storage import cases
from storage.contacts import load_state, record_consent
from storage.photos import Owner, photo_location, save_photo
from storage.volunteers import enrol_volunteer, stop_volunteer
from workers.context import WorkerContext
from workers.erasure import erase_contact

log = logging.getLogger(__name__)


@dataclass
class Results:
    values: dict[str, Any] = field(default_factory=dict)  # e.g. the new reference, shown by replies
    extra_replies: list[Reply] = field(default_factory=list)
    erased: bool = False


def execute(context: WorkerContext, message: Inbound, effects: list[Effect]) -> Results:
    results = Results()
    db, contact = context.connections.db, message.contact
    for effect in effects:
        if isinstance(effect, RecordConsent):
            record_consent(db, contact, effect.given)
            results.extra_replies += family_consented(db, contact, effect.given)  # an organisation's case asked
        elif isinstance(effect, StorePhoto):
            _store_photo(context, message, effect, results)
        elif isinstance(effect, DiscardDraft):
            cases.discard_draft(db, contact)
        elif isinstance(effect, CreateCase):
            results.values["reference"] = cases.create_case(db, contact, effect.details, source=_source(message))
            _match_adopted(context, Owner("case", results.values["reference"]))
        elif isinstance(effect, CreateSighting):
            details = effect.details
            if effect.use_photo_place:  # only with the sender's yes; otherwise the GPS is dropped unread
                details = _with_photo_location(details, photo_location(db, cases.draft_owner(contact)))
            results.values["reference"] = cases.create_sighting(db, contact, details, source=_source(message))
            _match_adopted(context, Owner("sighting", results.values["reference"]))
        elif isinstance(effect, CloseCase):
            reporters = contacts_acting_as(contact)  # the dialog checked the case is among theirs
            if cases.close_case(db, effect.reference, by=contact, now=datetime.now(UTC), reporter=reporters):
                case_closed(db, context.queue, effect.reference)
            appeals.end_for_case(db, context.queue, effect.reference, "found")  # also after a crash just before
        elif isinstance(effect, RequestAppeal):
            language = load_state(db, contact).language or "en"
            args = (db, contact, effect.case_reference, effect.choices, language, _source(message))
            results.values["appeal"] = appeals.request(*args)
        elif isinstance(effect, WithdrawAppeal):
            if appeals.owned_by(db, effect.reference, contact):
                appeals.end(db, context.queue, effect.reference, "withdrawn")
        elif isinstance(effect, BecomeVolunteer):
            enrol_volunteer(db, contact, effect.details, load_state(db, contact).language or "en")
        elif isinstance(effect, StopVolunteering):
            stop_volunteer(db, contact)
        elif isinstance(effect, EraseContact):
            erased = erase_contact(context, contact)
            results.erased = True
            log.info("erased a contact on request: %s", erased)
    return results


def _store_photo(context: WorkerContext, message: Inbound, effect: StorePhoto, results: Results) -> None:
    settings, db = context.settings, context.connections.db
    try:
        data = context.channels[message.channel].download(effect.attachment, settings.max_photo_bytes)
    except MediaTooLarge:
        limit = settings.max_photo_bytes // 2**20
        results.extra_replies.append(Reply("file_too_large", {"size_mb": f"> {limit}", "limit_mb": limit}))
        return
    owner = Owner("case", effect.case_reference) if effect.case_reference else cases.draft_owner(message.contact)
    sender = PhotoSender(message.contact, message.channel, message.chat_id, effect.number, effect.purpose, effect.name)
    saved = save_photo(db, data, owner, effect.attachment.content_type, sender)
    if saved.created:
        assert context.queue is not None
        enqueue_photo_analysis(context.queue, str(saved.id))


def _with_photo_location(details: dict[str, Any], location: dict[str, float] | None) -> dict[str, Any]:
    """The sighting's details with its photo's GPS place, when the sender shared no location of their own."""
    place = details.get("place") or {}
    if location is None or {"latitude", "longitude"} <= place.keys():
        return details
    return details | {"place": place | location | {"from_photo": True}}


def _match_adopted(context: WorkerContext, owner: Owner) -> None:
    """Photos analysed while still a draft are matched now that they belong to a case or sighting."""
    assert context.queue is not None
    match_when_owned(context.queue, owner.as_doc(), cases.analysed_photo_ids(context.connections.db, owner))


def _source(message: Inbound) -> str:
    return f"{message.channel}:{message.message_id}"
