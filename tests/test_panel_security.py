"""The panel hardened: each route's role rule, CSRF and headers; redirects, simulator, limits (logins: test_logins)."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from waitress.server import create_server

from admin.__main__ import BODY_LIMIT, SERVE_OPTIONS
from admin.app import MAX_UPLOAD_BYTES, create_app
from admin.security import on_site
from bot.simulator import UploadsFull, keep_upload
from config import Settings
from infra.embedded import EmbeddedServer
from storage.connections import Connections
from storage.organisations import create_organisation
from storage.users import create_user
from tests.conftest import make_environment

PASSWORD = "a-long-test-password"
OUTSIDE = {"REMOTE_ADDR": "203.0.113.7"}  # a visitor from elsewhere, not this machine

# Who may use each endpoint: a role (and those after it in ROLES), a tuple of exactly the roles let in, or "public" with
# the reason. A new route fails the walk until it is listed here.
RULES = {
    "auth.login": "public",  # the way in
    "auth.logout": "public",  # ends whatever session there is; CSRF-protected
    "health.healthz": "public",  # for load balancers and `make run`; says up or down, nothing else
    "metrics.metrics": "viewer",  # or a bearer token (tests/test_operations.py)
    "media.photo": "public",  # a signed, expiring link is the authority (WhatsApp fetches it)
    "static": "public",  # CSS and the simulator's script
    "webhooks.telegram_update": "public",  # the secret header is the authority
    "webhooks.twilio_message": "public",  # the signature is the authority
    "review.dashboard": "viewer",
    "review.queue": "viewer",
    "review.candidate": "viewer",
    "review.decision": "reviewer",
    "outcomes.record": "reviewer",
    "outcomes.index": "viewer",
    "cases.index": "viewer",
    "cases.case": "viewer",
    "cases.close": "reviewer",
    "images.crop": "viewer",
    "images.photo": "viewer",
    "users.index": "admin",
    "users.create": "admin",
    "users.disable": "admin",
    "users.enable": "admin",
    "users.revoke": "admin",
    "users.reset_password": "admin",
    "users.own_password": "registrar",
    "organisations.index": "admin",
    "organisations.create": "admin",
    "organisations.update": "admin",
    "api_keys.index": "admin",
    "api_keys.create": "admin",
    "api_keys.revoke": "admin",
    "partner_hooks.index": "admin",
    "partner_hooks.add": "admin",
    "partner_hooks.rotate": "admin",
    "partner_hooks.remove": "admin",
    "partner_hooks.redeliver_one": "admin",
    "found.index": "registrar",  # a registrar sees its organisation's (tests/test_found_panel.py), the operator all
    "found.register": ("registrar",),  # a partner registers the people it holds; the operator's people read them
    "found.record": "registrar",
    "found.photo": "registrar",
    "found.close": ("registrar", "reviewer", "admin"),
    "found.outcome": ("registrar", "reviewer", "admin"),  # of the record's approved matches (test_found_follow_up)
    "found.notifications": ("registrar",),  # the families told of its organisation's found persons
    # A registrar imports for its organisation (tests/test_found_import_panel.py), an operator's admin for any partner.
    "found_import.index": ("registrar", "admin"),
    "found_import.record": ("registrar", "admin"),
    "jobs.index": "admin",
    "jobs.requeue": "admin",
    "jobs.delete": "admin",
    "exports.index": "admin",
    "exports.download": "admin",
    "simulator.page": "reviewer",  # when the service is reachable from outside, as here
    "simulator.send": "reviewer",
    "simulator.messages": "reviewer",
    # Appeals (docs/reviewers/appeals.md): a reviewer's risk check decides; the public page's unguessable token
    # is the authority, and an appeal never approved answers 404, an ended one 410.
    "appeals.index": "reviewer",
    "appeals.appeal": "reviewer",
    "appeals.decide": "reviewer",
    "appeals.end": "reviewer",
    "public_appeals.page": "public",
    "public_appeals.poster": "public",
}
# The partner API: an organisation's API key is the authority, never a panel session (tests/test_api.py).
RULES |= {
    f"api.{name}": "public"
    for name in ("create", "index", "read", "update", "close", "add_photos", "candidates", "outcome", "openapi", "docs")
}
RULES |= {  # the cases organisations register (api/cases.py)
    f"api.case_{name}": "public"
    for name in ("create", "index", "read", "update", "close", "photos", "candidates", "outcome")
}
RULES |= {  # the partner's webhook endpoints (api/hooks.py)
    f"api.{name}": "public"
    for name in ("add_webhook", "list_webhooks", "read_webhook", "remove_webhook", "rotate_webhook")
    + ("webhook_deliveries", "redeliver_webhook")
}
ROLES = ("registrar", "viewer", "reviewer", "admin")
REFUSED = b"Wrong username or password, or the account is disabled"
SECURITY_HEADERS = ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy")


@pytest.fixture
def environment(servers: tuple[EmbeddedServer, EmbeddedServer], tmp_path: Path) -> dict[str, str]:
    # Bound to every address, as the Procfile runs it: the simulator must ask for a login.
    return make_environment(servers, tmp_path, HOST="0.0.0.0", HOMEWARD_SIMULATOR="on")


@pytest.fixture
def app(settings: Settings, connections: Connections) -> Flask:
    made = create_app(settings, connections)
    for role in ("viewer", "reviewer"):  # "admin" exists already: created at start-up
        create_user(connections.db, role, PASSWORD, role)
    shelter = create_organisation(connections.db, "Sunrise Shelter", "shelter")
    create_user(connections.db, "registrar", PASSWORD, "registrar", shelter)
    return made


def client(app: Flask, **environ: str) -> FlaskClient:
    made = app.test_client()
    made.environ_base.update(OUTSIDE | environ)
    return made


def login(made: FlaskClient, username: str, password: str = PASSWORD, next_path: str = "") -> Any:
    """Post the login form as a browser would; return the answer."""
    page = made.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    target = "/login" + (f"?next={quote(next_path, safe='')}" if next_path else "")
    return made.post(target, data={"username": username, "password": password, "csrf_token": token})


def signed_in(app: Flask, role: str, settings: Settings) -> tuple[FlaskClient, str]:
    """A browser logged in as `role`, and the CSRF token of its session."""
    made = client(app)
    answer = login(made, role, settings.admin_password if role == "admin" else PASSWORD)  # type: ignore[arg-type]
    assert answer.status_code == 302, f"{role} could not log in"
    page = made.get("/users/password").get_data(as_text=True)
    return made, re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


def without_token(page: bytes) -> bytes:
    """A page as a person sees it: the form's CSRF token differs per session."""
    return re.sub(rb'name="csrf_token" value="[^"]+"', b"", page)


def routes(app: Flask) -> Iterator[tuple[str, str, str]]:
    """(endpoint, method, path) for every route, path arguments filled with harmless values."""
    for rule in app.url_map.iter_rules():
        values = {name: "000000000000000000000000" for name in rule.arguments}
        if rule.endpoint == "static":
            values = {"filename": "panel.css"}
        if rule.endpoint == "exports.download":
            values = {"kind": "cases", "fmt": "csv"}
        with app.test_request_context():
            path = app.url_for(rule.endpoint, **values)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):  # type: ignore[operator]
            yield rule.endpoint, method, path


def assert_headers(answer: Any, where: str) -> None:
    for name in SECURITY_HEADERS:
        assert name in answer.headers, f"{where}: no {name}"
    policy = answer.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "'unsafe-inline'" not in policy, where
    assert answer.headers["X-Frame-Options"] == "DENY" and answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "Strict-Transport-Security" not in answer.headers, f"{where}: HSTS over plain http"


def test_every_route_has_its_role_rule_csrf_and_headers(app: Flask, settings: Settings) -> None:
    walked = list(routes(app))
    assert {endpoint for endpoint, _, _ in walked} == set(RULES), "list each new route's role in RULES"
    browsers = {"anonymous": client(app)} | {role: signed_in(app, role, settings) for role in ROLES}
    for endpoint, method, path in walked:
        rule, where = RULES[endpoint], f"{method} {path} ({endpoint})"
        anonymous = browsers["anonymous"].open(path, method=method)  # type: ignore[union-attr]
        assert_headers(anonymous, where)
        if rule != "public":
            refused = anonymous.status_code in (400, 401, 403) or (
                anonymous.status_code == 302 and anonymous.location.startswith("/login")
            )
            assert refused, f"{where}: anonymous got {anonymous.status_code}"
        if method == "POST" and not endpoint.startswith(("webhooks.", "api.")):
            # Even an admin's form is refused without the session's CSRF token.
            browser, _ = browsers["admin"]  # type: ignore[misc]
            assert browser.post(path).status_code == 400, f"{where}: accepted without a CSRF token"
        if rule == "public":
            continue
        for role in ROLES:
            browser, token = browsers[role]  # type: ignore[misc]
            answer = browser.open(path, method=method, data={"csrf_token": token} if method == "POST" else None)
            assert_headers(answer, f"{where} as {role}")
            allowed = role in rule if isinstance(rule, tuple) else ROLES.index(role) >= ROLES.index(rule)
            if allowed:  # through the guard: the harmless ids may be unknown (404) or the form incomplete
                assert answer.status_code not in (401, 403), f"{where}: {role} refused"
                assert not (answer.status_code == 302 and answer.location.startswith("/login")), f"{where}: {role}"
            else:
                assert answer.status_code == 403, f"{where}: {role} got {answer.status_code}"


def test_pages_are_not_cached_and_hsts_is_sent_behind_https(
    settings: Settings, connections: Connections, app: Flask
) -> None:
    page = client(app).get("/login")
    assert page.headers["Cache-Control"] == "no-store" and "Strict-Transport-Security" not in page.headers
    secure = create_app(dataclasses.replace(settings, public_base_url="https://homeward.example.org"), connections)
    assert "max-age=" in client(secure).get("/login").headers["Strict-Transport-Security"]


HOSTILE_NEXT = [
    "//evil.com",
    "///evil.com",
    "/\\evil.com",
    "\\\\evil.com",
    "/\t/evil.com",
    "/\n/evil.com",
    "https://evil.com",
    "http:evil.com",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "%2F%2Fevil.com",
    "/%2Fevil.com",
    "/%5Cevil.com",
    "/%09/evil.com",
    "%2F%5Cevil.com",
    "evil.com",
    "",
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_hostile_next_values_are_never_followed(target: str) -> None:
    assert not on_site(target)


def test_after_login_the_browser_goes_back_only_to_this_site(app: Flask) -> None:
    for target in ("//evil.com", "/\\evil.com", "https://evil.com", "javascript:alert(1)", "%2F%2Fevil.com"):
        answer = login(client(app), "viewer", next_path=target)
        assert answer.status_code == 302 and answer.location == "/", f"{target!r} led to {answer.location}"
    # Percent escapes inside a real path or query survive: a link to a filtered list comes back as it was.
    answer = login(client(app), "viewer", next_path="/cases/?filter=open")
    assert answer.location == "/cases/?filter=open"
    anonymous = client(app).get("/cases/?filter=closed")
    assert anonymous.status_code == 302 and anonymous.location.startswith("/login?next=")


def test_the_simulator_asks_for_a_reviewer_when_reachable_from_outside(app: Flask, settings: Settings) -> None:
    anonymous = client(app)
    assert anonymous.get("/simulator/").location.startswith("/login?next=/simulator/")
    refused = anonymous.get("/simulator/messages?user=Ana")
    assert refused.status_code == 401 and "log in" in refused.get_json()["error"]
    viewer, _ = signed_in(app, "viewer", settings)
    assert viewer.get("/simulator/").status_code == 403
    reviewer, _ = signed_in(app, "reviewer", settings)
    page = reviewer.get("/simulator/").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    sent = reviewer.post("/simulator/send", data={"user": "Ana", "text": "hi"}, headers={"X-CSRFToken": token})
    assert sent.status_code == 200


def test_the_simulator_is_open_only_when_configured_so(settings: Settings, connections: Connections) -> None:
    # A reverse proxy on this host reaches a loopback-bound service for every visitor: loopback proves nothing.
    local = dataclasses.replace(settings, host="127.0.0.1")
    assert client(create_app(local, connections)).get("/simulator/").status_code == 302  # to the login
    refused = client(create_app(local, connections)).post("/simulator/send", data={"user": "Ana", "text": "hi"})
    assert refused.status_code in (400, 401)  # no CSRF token, and no login: nothing reaches the queue
    opened = dataclasses.replace(local, simulator_open=True)
    assert client(create_app(opened, connections)).get("/simulator/").status_code == 200


def test_simulator_uploads_waiting_in_redis_stay_within_their_budget(
    settings: Settings, connections: Connections
) -> None:
    budget = 1024 * 1024
    keep_upload(connections.redis, b"x" * 700_000, budget)
    with pytest.raises(UploadsFull):
        keep_upload(connections.redis, b"y" * 700_000, budget)
    keep_upload(connections.redis, b"z" * 300_000, budget)  # what still fits is kept
    small = create_app(dataclasses.replace(settings, simulator_open=True, simulator_upload_bytes=budget), connections)
    browser = client(small)
    page = browser.get("/simulator/").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    photo = {"user": "Ana", "file": (io.BytesIO(b"\xff\xd8\xff" + b"0" * 100_000), "a.jpg", "image/jpeg")}
    full = browser.post("/simulator/send", data=photo, headers={"X-CSRFToken": token})
    assert full.status_code == 429 and "too many photos" in full.get_json()["error"]
    assert connections.db.inbound.count_documents({}) == 0  # refused before anything was kept


def test_waitress_refuses_a_body_over_the_upload_limit_before_reading_it(app: Flask) -> None:
    server = create_server(app, host="127.0.0.1", port=0, **SERVE_OPTIONS)

    def serve() -> None:
        with contextlib.suppress(OSError):  # closing the server under its poll loop ends the loop this way
            server.run()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", server.effective_port), timeout=10) as connection:
            connection.sendall(
                b"POST /simulator/send HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                + f"Content-Length: {BODY_LIMIT + 1}\r\n\r\n".encode()
            )
            status = connection.recv(200).split(b"\r\n")[0]
        assert status == b"HTTP/1.1 413 Request Entity Too Large"
    finally:
        server.close()
        server.task_dispatcher.shutdown()
        thread.join(10)


def test_a_body_over_the_upload_limit_is_refused_by_every_route_but_the_import(app: Flask) -> None:
    """waitress lets the import's larger bodies through (admin/found_import.py); every other route stops at 64 MB."""
    body = b"x" * (MAX_UPLOAD_BYTES + 1)
    assert client(app).post("/login", data=body, content_type="application/x-www-form-urlencoded").status_code == 413
