"""A public appeal, asked for by the family: `appeal HW-…`, the family's choices, `withdraw appeal`; and a QR scan.

Only the family's own open case with a usable face can have one, and one at a time. The family chooses what
the poster shows; nothing is public until a reviewer approves it (services/appeals.py). A citizen who scans a
poster's code writes `AP-…` (Telegram's `/start AP-…`): a running appeal starts a sighting tied to it, which
may go on without a photo; an ended one is answered "This appeal has ended. Thank you." and nothing more.
"""

from __future__ import annotations

from typing import Any

from core.conversation.messages import Reply
from core.conversation.references import APPEAL_PREFIX, CASE_PREFIX, find_reference
from core.conversation.state import CaseSummary, Context, DiscardDraft, Outcome, RequestAppeal, State, WithdrawAppeal
from core.conversation.words import SKIP, is_no, is_yes

STEPS = ("photo", "name", "age", "place", "description", "confirm")
MAX_DESCRIPTION = 120  # one line on the poster
_PROMPTS = {
    "photo": "appeal_ask_photo",
    "name": "appeal_ask_name",
    "age": "appeal_ask_age",
    "place": "appeal_ask_place",
    "description": "appeal_ask_description",
}
WITHDRAW = frozenset({"withdraw appeal", "stop appeal", "cancel appeal", "अपील वापस लें", "अपील वापस", "अपील हटाएं"})


def is_command(words: str) -> bool:
    return words.split(" ", 1)[0] in ("appeal", "/appeal", "अपील") and words not in WITHDRAW


def start(state: State, text: str, context: Context) -> Outcome:
    """`appeal HW-…`: the checks, each with its own answer, then the first choice."""
    reference = find_reference(text, CASE_PREFIX)
    if reference is None:
        return Outcome(state, [Reply("need_reference", {"command": "appeal"})])
    case = context.case(reference)  # only the contact's own cases are in the context
    if case is None:
        return Outcome(state, [Reply("case_unknown", {"reference": reference})])
    if refusal := _refusal(case):
        return Outcome(state, [refusal])
    following = state.at("appeal", "photo", reference=reference, name=case.name)
    return Outcome(following, [Reply("appeal_ask_photo", {"name": case.name, "reference": reference})])


def _refusal(case: CaseSummary) -> Reply | None:
    params = {"reference": case.reference, "appeal": case.appeal}
    if case.organisation:  # an appeal of the organisation's case is the organisation's to make
        return Reply("followed_case_theirs", {"reference": case.reference, "organisation": case.organisation})
    if case.status != "open":
        return Reply("appeal_case_closed", params)
    if case.appeal:
        return Reply("appeal_already", params)
    if case.faces < 1:
        return Reply("appeal_no_photo", params)
    return None


def advance(state: State, text: str, words: str) -> Outcome:
    """One answer of the appeal dialog."""
    step = state.step or "photo"
    if step == "confirm":
        if not is_yes(words):
            return Outcome(state, [Reply("confirm_hint")])
        choices = {k: state.draft.get(k) for k in ("photo", "full_name", "age", "place", "description")}
        effect = RequestAppeal(state.draft["reference"], choices)
        return Outcome(state.idle(), [Reply("appeal_requested")], [effect])
    value = _answer(step, text, words)
    if value is None:
        hint = "appeal_name_choice" if step == "name" else "appeal_yes_no"
        return Outcome(state, [Reply(hint), Reply(_PROMPTS[step], _params(state))])
    following = state.at("appeal", STEPS[STEPS.index(step) + 1], **{_FIELDS[step]: value})
    if following.step == "confirm":
        return Outcome(following, [_summary(following)])
    return Outcome(following, [Reply(_PROMPTS[following.step or ""], _params(following))])


_FIELDS = {"photo": "photo", "name": "full_name", "age": "age", "place": "place", "description": "description"}


def _answer(step: str, text: str, words: str) -> Any:
    """The choice an answer makes, or None when it does not answer the question."""
    if step == "name":
        return {"1": False, "first": False, "first name": False, "2": True, "full": True, "full name": True}.get(words)
    if step == "description":
        line = " ".join(text.split())
        return "" if words in SKIP or not line else line[:MAX_DESCRIPTION]
    if is_yes(words):
        return True
    return False if is_no(words) else None


def _summary(state: State) -> Reply:
    draft = state.draft

    def shown(flag: Any) -> Reply:
        return Reply("appeal_shown" if flag else "appeal_hidden")

    name = draft.get("name", "")
    return Reply(
        "appeal_summary",
        {
            "photo": shown(draft.get("photo")),
            "name": name if draft.get("full_name") else name.split(" ")[0],
            "age": shown(draft.get("age")),
            "place": shown(draft.get("place")),
            "description": draft.get("description") or Reply("not_given"),
        },
    )


def withdraw(state: State, context: Context) -> Outcome:
    """`withdraw appeal`: every appeal of the contact's cases is taken down."""
    running = [case.appeal for case in context.own_cases() if case.appeal]
    if not running:
        return Outcome(state, [Reply("appeal_none")])
    replies = [Reply("appeal_withdrawn", {"appeal": appeal}) for appeal in running]
    return Outcome(state, replies, [WithdrawAppeal(appeal) for appeal in running])


def scanned(state: State, text: str, context: Context) -> Outcome | None:
    """A message naming an appeal (a scanned code): None when it names none the worker looked up."""
    reference = find_reference(text, APPEAL_PREFIX)
    if reference is None or context.scanned is None or context.scanned[0] != reference:
        return None
    status = context.scanned[1]
    if status != "active":
        key = "appeal_ended" if status == "ended" else "appeal_unknown"
        return Outcome(state, [Reply(key, {"appeal": reference})])
    if not state.consent:  # consent first; the appeal waits in the draft (dialog._consent)
        return Outcome(
            State(asked_consent=True, language=state.language, draft={"appeal": reference}), [Reply("welcome")]
        )
    return start_sighting(state, reference)


def start_sighting(state: State, reference: str) -> Outcome:
    """A sighting tied to the appeal; any other flow in progress is left."""
    effects = [DiscardDraft()] if state.flow else []
    following = state.idle().at("sighting", "photo", appeal=reference, photos=0)
    return Outcome(following, [Reply("appeal_scanned", {"appeal": reference})], effects)


def _params(state: State) -> dict[str, Any]:
    return {"name": state.draft.get("name", ""), "reference": state.draft.get("reference", "")}
