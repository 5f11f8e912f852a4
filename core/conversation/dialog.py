"""The conversation: (state, message, context) -> (new state, replies, effects). Pure.

Order of precedence for each message: the language command (so even the
consent question can be read in one's own language); consent; then files we
can't use; then words that work anywhere (help, cancel, delete my data); then
the step of the flow in progress; then the menu and commands.

The contact's language is chosen from the first message that shows it (the
platform's language setting, else the script it is written in); until consent
a message in Devanagari still switches to Hindi (people often open with 'hi'
and answer 'हाँ'); after that only the language command changes it.
"""

from __future__ import annotations

from dataclasses import replace

from core.conversation import appeal, flows, volunteer
from core.conversation.catalog import LANGUAGES
from core.conversation.messages import TEXT_ONLY, Inbound, Reply
from core.conversation.references import CASE_PREFIX, find_reference
from core.conversation.state import CloseCase, Context, DiscardDraft, EraseContact, Outcome, RecordConsent, State
from core.conversation.words import (
    CANCEL,
    ERASE,
    ERASE_CONFIRM,
    GREETINGS,
    MENU_CHOICES,
    clean,
    is_no,
    is_yes,
    language_command,
    normalise,
    script_language,
)

UNSUPPORTED = {
    "video": "unsupported_video",
    "audio": "unsupported_audio",
    "document": "unsupported_document",
    "sticker": "unsupported_sticker",
}
MAX_TEXT = 10_000  # characters read from one message; every answer keeps far fewer (see flows)
_LARGEST_SHOWN = 2**70  # bytes; a size beyond this (a platform's nonsense) is shown as this many MB


def step(state: State, message: Inbound, context: Context) -> Outcome:
    """Answer one inbound message."""
    message = replace(message, text=clean((message.text or "")[:MAX_TEXT]))
    if message.channel in TEXT_ONLY and not message.photos:
        context = replace(context, text_only=True)  # an MMS photo, where the carrier passes one, is still taken
    words = normalise(message.text)
    if (chosen := language_command(words)) is not None:
        return _choose_language(state, chosen)
    if state.language is None or (not state.consent and script_language(message.text) == "hi"):
        state = replace(state, language=detect_language(message) or state.language)
    if (scan := appeal.scanned(state, message.text, context)) is not None:
        return scan
    if not state.consent:
        return _consent(state, message, words)
    if not flows.is_known(state):
        state = state.idle()  # a step this code no longer has, or a damaged draft: back to the menu
    if refusal := _refuse_file(message, context, state):
        return Outcome(state, [refusal])
    if words in GREETINGS:
        return Outcome(state, [Reply("menu")] + ([Reply("menu_in_flow")] if state.flow else []))
    if words in CANCEL:
        return _cancel(state)
    if words in ERASE:
        return Outcome(
            state.idle().at("erase", "confirm"), [Reply("erase_confirm")], [DiscardDraft()] if state.flow else []
        )
    if state.flow == "erase":
        return _erase(state, words)
    if words in appeal.WITHDRAW:
        return appeal.withdraw(state, context)
    if words in volunteer.STOP and (context.is_volunteer() or state.flow in ("volunteer", None)):
        return volunteer.stop(state, context)  # in another flow, a non-volunteer's 'stop' is that flow's answer
    if state.flow == "volunteer":
        return volunteer.advance(state, message, words)
    if state.flow == "appeal":
        return appeal.advance(state, message.text, words)
    if state.flow:
        return flows.advance(state, message, words, context)
    return _menu(state, message, words, context)


def _consent(state: State, message: Inbound, words: str) -> Outcome:
    if words in ERASE:  # nothing but the messages themselves is kept before consent: erase them at once
        return Outcome(State(language=state.language), [Reply("erased")], [EraseContact()])
    if state.asked_consent and is_yes(words) and state.draft.get("appeal"):  # came by a poster's code
        consented = replace(state, consent=True, draft={})
        scan = appeal.start_sighting(consented, state.draft["appeal"])
        return Outcome(scan.state, [Reply("consent_thanks"), *scan.replies], [RecordConsent(True)])
    if state.asked_consent and is_yes(words):
        return Outcome(
            replace(state, consent=True, asked_consent=True),
            [Reply("consent_thanks"), Reply("menu")],
            [RecordConsent(True)],
        )
    if state.asked_consent and (is_no(words) or words in CANCEL):
        return Outcome(State(language=state.language), [Reply("consent_declined")], [RecordConsent(False)])
    replies = (
        [Reply("consent_reask")] if state.asked_consent and words and words not in GREETINGS else [Reply("welcome")]
    )
    if message.attachments:
        replies.append(Reply("photo_again_after_consent"))
    return Outcome(replace(State(asked_consent=True, language=state.language), draft=state.draft), replies)


def detect_language(message: Inbound) -> str | None:
    """The platform's language setting when we speak it, else the script of the text; None if neither tells."""
    platform = message.language.split("-")[0].lower()
    script = script_language(message.text)
    if "hi" in (platform, script):  # any sign of Hindi wins: English is what everyone gets otherwise
        return "hi"
    if platform in LANGUAGES:
        return platform
    return script


def _choose_language(state: State, chosen: str) -> Outcome:
    """Switch language and answer in it; an unknown or missing name lists the choices."""
    if chosen not in LANGUAGES:
        return Outcome(state, [Reply("language_choose")])
    state = replace(state, language=chosen)
    if not state.consent:
        return Outcome(replace(state, asked_consent=True), [Reply("language_set"), Reply("welcome")])
    return Outcome(state, [Reply("language_set"), Reply("menu_in_flow" if state.flow else "menu")])


def _refuse_file(message: Inbound, context: Context, state: State) -> Reply | None:
    """A clear answer for files we can't use; nothing is downloaded or stored.

    A short video is a sighting (a frame with each person becomes a photo); a missing-person report needs photos.
    """
    for attachment in message.attachments:
        if attachment.kind == "video" and state.flow in ("report", "add_photo"):
            return Reply("video_case_refused")
        if attachment.kind == "video" and state.flow not in ("sighting", None):
            return Reply("unsupported_video")
        if attachment.kind not in ("photo", "video"):
            return Reply(UNSUPPORTED.get(attachment.kind, "unsupported_document"))
        size = attachment.size
        if isinstance(size, int) and size > context.max_photo_bytes:
            size_mb = round(min(size, _LARGEST_SHOWN) / 2**20, 1)
            return Reply("file_too_large", {"size_mb": size_mb, "limit_mb": context.max_photo_bytes // 2**20})
    return None


def _cancel(state: State) -> Outcome:
    if not state.flow:
        return Outcome(state, [Reply("nothing_to_cancel")])
    return Outcome(state.idle(), [Reply("cancelled")], [DiscardDraft()])


def _erase(state: State, words: str) -> Outcome:
    if words in ERASE_CONFIRM or is_yes(words):
        return Outcome(State(language=state.language), [Reply("erased")], [EraseContact()])
    return Outcome(state, [Reply("erase_hint")])


def _menu(state: State, message: Inbound, words: str, context: Context) -> Outcome:
    if message.photos:
        return flows.start_sighting(state, message)
    choice = MENU_CHOICES.get(words)
    if choice == "report":
        return Outcome(state.at("report", "name"), [Reply("ask_name")])
    if choice == "sighting" and context.text_only:
        return Outcome(state, [Reply("sms_sighting_needs_photo")])
    if choice == "sighting":
        return Outcome(state.at("sighting", "photo"), [Reply("sighting_ask_photo")])
    if choice == "cases":
        return Outcome(state, [_list_cases(context)])
    if choice == "erase":
        return Outcome(state.at("erase", "confirm"), [Reply("erase_confirm")])
    if appeal.is_command(words):
        return appeal.start(state, message.text, context)
    if words in volunteer.COMMANDS:
        return volunteer.start(state)
    command = words.split(" ", 1)[0]
    if command in ("status", "found") or words.startswith("add photo"):
        return _case_command(state, "add photo" if command == "add" else command, message.text, context)
    return Outcome(state, [Reply("not_understood"), Reply("menu")])


def _list_cases(context: Context) -> Reply:
    if not context.own_cases():
        return Reply("cases_none")
    lines = [
        Reply("case_line", {"reference": c.reference, "name": c.name, "status": Reply(f"status_{c.shown_status}")})
        for c in context.own_cases()
    ]
    return Reply("cases_list", {"lines": lines})


def _case_command(state: State, command: str, text: str, context: Context) -> Outcome:
    reference = find_reference(text, CASE_PREFIX)
    if reference is None:
        return Outcome(state, [Reply("need_reference", {"command": command})])
    case = context.case(reference)
    if case is None:
        return Outcome(state, [Reply("case_unknown", {"reference": reference})])
    if command == "status":
        replies = [Reply("case_status", {**vars(case), "status": Reply(f"status_{case.shown_status}")})]
        if case.shown_status == "awaiting_photo" and context.text_only and not case.organisation:
            replies.append(Reply("how_to_add_photo", {"reference": reference}))
        return Outcome(state, replies)
    if case.organisation:  # the organisation's record: closing it or adding photos is theirs
        return Outcome(
            state, [Reply("followed_case_theirs", {"reference": reference, "organisation": case.organisation})]
        )
    if case.status == "closed":
        key = "case_already_closed" if command == "found" else "add_photo_closed"
        return Outcome(state, [Reply(key, {"reference": reference})])
    if command == "found":
        return Outcome(
            state, [Reply("case_closed", {"reference": reference, "name": case.name})], [CloseCase(reference)]
        )
    if context.text_only:
        return Outcome(state, [Reply("how_to_add_photo", {"reference": reference})])
    return Outcome(
        state.at("add_photo", "photos", reference=reference, photos=0, name=case.name),
        [Reply("add_photo_ask", {"reference": reference})],
    )
