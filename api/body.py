"""Request bodies read into a FoundPerson, every wrong field named at once (the problem document's `errors`).

The fields are the import's CSV columns (core/found/record.py FIELDS); FoundPerson checks the values, as it does
for the panel's form and the import, so the three agree on what may be stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from flask import request

from api.problems import ApiError, field_error, invalid
from core.found.record import FIELDS, FoundPerson, InvalidRecord

INTEGERS = ("age_min", "age_max")
REQUIRED = ("found_on",)
DEFAULTS: dict[str, Any] = {"gender": "unknown", "condition": "alive"}
T = TypeVar("T")


def json_object(raw: str | bytes | None = None) -> dict[str, Any]:
    """The JSON object sent (the request's body, or a multipart part's text); 400 when it is not one."""
    if raw is None:
        if request.mimetype != "application/json":
            raise ApiError(415, "Send the record as JSON (Content-Type: application/json).", "unsupported-media-type")
        raw = request.get_data(cache=True)
    try:
        body = json.loads(raw or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid([field_error("", f"not valid JSON ({exc})")], f"The body is not valid JSON: {exc}.") from None
    if not isinstance(body, dict):
        raise invalid([field_error("", "must be a JSON object of the record's fields")])
    return body


def read_record(body: dict[str, Any], base: dict[str, Any] | None = None) -> FoundPerson:
    """The record `body` describes, over `base` (the stored fields, for an update); 400 naming each wrong field."""
    values = read_fields(body, FIELDS, DEFAULTS | (base or {}), _type_problem)
    return built(lambda: FoundPerson(**_typed(values)), FIELDS)


def read_fields(
    body: dict[str, Any],
    fields: tuple[str, ...],
    base: dict[str, Any],
    type_problem: Callable[[str, Any], str | None],
) -> dict[str, Any]:
    """`body`'s fields over `base`, each of the right JSON type; 400 naming every unknown or mistyped field at once."""
    errors = [
        field_error(name, f"unknown field; the fields are {', '.join(fields)}") for name in body if name not in fields
    ]
    values = base | {name: value for name, value in body.items() if name in fields}
    for name in fields:
        problem = type_problem(name, values.get(name))
        if problem:
            errors.append(field_error(name, problem))
    if errors:
        raise invalid(errors)
    return values


def built(build: Callable[[], T], fields: tuple[str, ...]) -> T:
    """What `build` makes of checked values; its InvalidRecord as a 400 on the field its message starts with."""
    try:
        return build()
    except InvalidRecord as exc:
        message = str(exc)
        name = next((n for n in sorted(fields, key=len, reverse=True) if message.startswith(n)), "")
        raise invalid([field_error(name, message)]) from None


def read_choice(body: dict[str, Any], name: str, choices: tuple[str, ...] | list[str]) -> str:
    """The one field `name` of a body that holds only it (a close's `reason`, an `outcome`), among `choices`."""
    errors = [field_error(other, f"unknown field; send only `{name}`") for other in body if other != name]
    if body.get(name) not in choices:
        errors.append(field_error(name, f"must be one of {', '.join(choices)}"))
    if errors:
        raise invalid(errors)
    return str(body[name])


def _type_problem(name: str, value: Any) -> str | None:
    if value is None:
        return "is required: the date the person was found, as YYYY-MM-DD" if name in REQUIRED else None
    if name in INTEGERS:
        return None if isinstance(value, int) and not isinstance(value, bool) else "must be a whole number of years"
    if not isinstance(value, str):
        return "must be a string"
    if name == "found_on":
        try:
            date.fromisoformat(value)
        except ValueError:
            return "must be a date as YYYY-MM-DD (2026-12-01)"
    return None


def _typed(values: dict[str, Any]) -> dict[str, Any]:
    typed = {name: values.get(name) for name in FIELDS if values.get(name) is not None}
    typed["found_on"] = date.fromisoformat(values["found_on"])
    return {name: value.strip() if isinstance(value, str) else value for name, value in typed.items()}
