"""The API's OpenAPI document is valid OpenAPI 3.1 and says exactly what the running routes are."""

from __future__ import annotations

import re

from flask import Flask
from openapi_spec_validator import validate

from admin.app import create_app
from api.docs import PROBLEMS
from api.openapi import DOCUMENT
from config import Settings
from storage.connections import Connections


def routes(app: Flask) -> set[tuple[str, str]]:
    """(method, path) of every /api/v1/ route, its arguments written as OpenAPI writes them: {reference}."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            found |= {(method.lower(), path) for method in rule.methods - {"HEAD", "OPTIONS"}}  # type: ignore[operator]
    return found


def documented() -> set[tuple[str, str]]:
    return {(method, path) for path, operations in DOCUMENT["paths"].items() for method in operations}


def test_the_document_is_valid_openapi_3_1_and_served_as_json(settings: Settings, connections: Connections) -> None:
    validate(DOCUMENT)
    app = create_app(settings, connections)
    served = app.test_client().get("/api/v1/openapi.json")
    assert served.status_code == 200 and served.get_json()["openapi"].startswith("3.1")
    assert served.get_json() == app.json.loads(app.json.dumps(DOCUMENT))


def test_every_route_is_documented_and_every_documented_route_exists(
    settings: Settings, connections: Connections
) -> None:
    app = create_app(settings, connections)
    running = routes(app)
    assert running, "no /api/v1/ routes found"
    assert running - documented() == set(), "routes missing from the OpenAPI document (api/openapi*.py)"
    assert documented() - running == set(), "documented in api/openapi*.py but not served"


def test_each_operation_names_the_scope_its_route_checks(settings: Settings, connections: Connections) -> None:
    app = create_app(settings, connections)
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        scope = getattr(app.view_functions[rule.endpoint], "scope", None)
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:  # type: ignore[operator]
            security = DOCUMENT["paths"][path][method.lower()]["security"]
            assert security == ([{"apiKey": [scope]}] if scope else []), f"{method} {path}"


def test_the_docs_page_lists_every_call_and_needs_no_other_site(settings: Settings, connections: Connections) -> None:
    page = create_app(settings, connections).test_client().get("/api/docs").get_data(as_text=True)
    for method, path in documented():
        assert f"{method.upper()} {path}" in page
    assert "<script" not in page and "https://" not in page.split("<main>")[0]
    for kind in PROBLEMS:  # each problem's `type` links here (tests/test_api.py checks every one it meets is listed)
        assert f'id="problem-{kind}"' in page
