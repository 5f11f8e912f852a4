"""The panel hardened: each route's role rule, CSRF and headers; redirects, throttling, accounts, simulator, limits."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from waitress.server import create_server

from admin import throttle
from admin.__main__ import SERVE_OPTIONS
from admin.app import MAX_UPLOAD_BYTES, create_app
from admin.auth import typed_name
from admin.security import on_site
from bot.simulator import UploadsFull, keep_upload
from cli.main import group
from config import Settings
from infra.embedded import EmbeddedServer
from storage.connections import Connections
from storage.users import create_user
from tests.conftest import make_environment
from tests.test_cli import env_of

PASSWORD = "a-long-test-password"
OUTSIDE = {"REMOTE_ADDR": "203.0.113.7"}  # a visitor from elsewhere, not this machine

# Who may use each endpoint: a role, or "public" with the reason. A new route fails the walk until it is listed here.
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
    "users.own_password": "viewer",
    "jobs.index": "admin",
    "jobs.requeue": "admin",
    "jobs.delete": "admin",
    "exports.index": "admin",
    "exports.download": "admin",
    "simulator.page": "reviewer",  # when the service is reachable from outside, as here
    "simulator.send": "reviewer",
    "simulator.messages": "reviewer",
}
ROLES = ("viewer", "reviewer", "admin")
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
        if method == "POST" and not endpoint.startswith("webhooks."):
            # Even an admin's form is refused without the session's CSRF token.
            browser, _ = browsers["admin"]  # type: ignore[misc]
            assert browser.post(path).status_code == 400, f"{where}: accepted without a CSRF token"
        if rule == "public":
            continue
        for role in ROLES:
            browser, token = browsers[role]  # type: ignore[misc]
            answer = browser.open(path, method=method, data={"csrf_token": token} if method == "POST" else None)
            assert_headers(answer, f"{where} as {role}")
            allowed = ROLES.index(role) >= ROLES.index(rule)
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


def test_a_password_storm_from_one_address_does_not_lock_the_owner_out_from_another(
    app: Flask, settings: Settings, connections: Connections
) -> None:
    # Two web processes share the counts through Redis: failures on either add up.
    other_process = create_app(settings, connections)
    password = settings.admin_password or ""
    for attempt in range(throttle.FREE_TRIES):
        answer = login(client(app if attempt % 2 else other_process), "admin", "wrong-password-guess")
        assert answer.status_code == 200 and REFUSED in answer.data
    # That address now waits, even with the right password, and is told how long.
    blocked = login(client(app), "admin", password)
    assert blocked.status_code == 429 and b"Try again in 1 second(s)" in blocked.data
    # The admin, elsewhere, logs in with the right password at once.
    assert login(client(app, REMOTE_ADDR="198.51.100.9"), "admin", password).status_code == 302
    time.sleep(1.1)  # the wait is over: the right password works from the storm's address too
    assert login(client(app), "admin", password).status_code == 302


def test_each_failure_past_the_free_tries_doubles_the_wait_up_to_a_cap(connections: Connections) -> None:
    waits = []
    for _ in range(throttle.FREE_TRIES + 12):
        throttle.count_failure(connections.redis, "192.0.2.40", "reviewer")
        waits.append(throttle.wait_seconds(connections.redis, "192.0.2.40", "reviewer"))
    assert waits[: throttle.FREE_TRIES - 1] == [0] * (throttle.FREE_TRIES - 1)
    assert waits[throttle.FREE_TRIES - 1 : throttle.FREE_TRIES + 4] == [1, 2, 4, 8, 16]
    assert waits[-1] == throttle.MAX_WAIT_S == 15 * 60
    assert throttle.wait_seconds(connections.redis, "192.0.2.41", "reviewer") == 0  # another address
    assert throttle.wait_seconds(connections.redis, "192.0.2.40", "viewer") == 0  # another username


def test_one_address_guessing_across_many_usernames_is_stopped(app: Flask, connections: Connections) -> None:
    guesser = client(app, REMOTE_ADDR="192.0.2.50")
    for number in range(throttle.FREE_TRIES_PER_ADDRESS - 1):  # counted as the form counts them, without hashing each
        throttle.count_failure(connections.redis, "192.0.2.50", f"nobody-{number}")
    assert login(guesser, "someone-else", "wrong-password-guess").status_code == 200  # the last one allowed
    assert login(guesser, "viewer").status_code == 429
    assert login(client(app, REMOTE_ADDR="192.0.2.51"), "viewer").status_code == 302


def test_a_right_password_forgives_that_usernames_earlier_mistakes(app: Flask, connections: Connections) -> None:
    for _ in range(2):  # one short of the free tries each time, counted as the form counts them
        for _ in range(throttle.FREE_TRIES - 1):
            throttle.count_failure(connections.redis, OUTSIDE["REMOTE_ADDR"], "viewer")
        assert login(client(app), "viewer").status_code == 302


def test_the_owner_is_told_of_failed_logins_since_their_last_login(app: Flask) -> None:
    for number in range(throttle.BURST):  # from many addresses, so none of them is made to wait
        login(client(app, REMOTE_ADDR=f"192.0.2.{70 + number}"), "viewer", "wrong-password-guess")
    browser = client(app)
    login(browser, "viewer")
    page = browser.get("/").get_data(as_text=True)
    assert f"There were {throttle.BURST} wrong passwords for your username since your last login" in page
    again = client(app)
    login(again, "viewer")
    assert "wrong passwords for your username" not in again.get("/").get_data(as_text=True)  # told once


def test_a_disabled_account_answers_as_a_wrong_password_does(app: Flask, settings: Settings) -> None:
    reviewer, _ = signed_in(app, "reviewer", settings)
    admin, token = signed_in(app, "admin", settings)
    assert admin.post("/users/reviewer/disable", data={"csrf_token": token}).status_code == 302
    assert reviewer.get("/review").location.startswith("/login")
    right, wrong = login(client(app), "reviewer"), login(client(app), "reviewer", "wrong-password-guess")
    assert right.status_code == wrong.status_code == 200 and REFUSED in right.data
    assert without_token(right.data) == without_token(wrong.data)  # the right password is not confirmed
    assert (
        b"cannot disable your own account"
        in admin.post("/users/admin/disable", data={"csrf_token": token}, follow_redirects=True).data
    )
    admin.post("/users/reviewer/enable", data={"csrf_token": token})
    assert login(client(app), "reviewer").status_code == 302


def test_a_copied_session_cookie_stops_working_at_logout(app: Flask, settings: Settings) -> None:
    browser, token = signed_in(app, "reviewer", settings)
    copy = client(app)
    copy.set_cookie("session", browser.get_cookie("session").value)  # type: ignore[union-attr]
    assert copy.get("/").status_code == 200
    assert browser.post("/logout", data={"csrf_token": token}).status_code == 302
    assert copy.get("/").location.startswith("/login")
    assert login(client(app), "reviewer").status_code == 302  # logging in again works


def test_a_session_ends_at_its_absolute_age_however_active(settings: Settings, connections: Connections) -> None:
    app = create_app(dataclasses.replace(settings, session_max_hours=2), connections)
    create_user(connections.db, "reviewer", PASSWORD, "reviewer")
    browser, _ = signed_in(app, "reviewer", settings)
    for hours in (1, 1.9):  # busy all along: activity does not extend it
        with browser.session_transaction() as stored:
            stored["started"] = int(time.time() - hours * 3600)
        assert browser.get("/").status_code == 200
    with browser.session_transaction() as stored:
        stored["started"] = int(time.time() - 2.1 * 3600)
    assert browser.get("/").location.startswith("/login")
    assert browser.get("/").location.startswith("/login")  # and it stays ended


def test_the_current_password_check_is_throttled_like_logins(app: Flask, settings: Settings) -> None:
    here, token = signed_in(app, "viewer", settings)
    form = {"password": "not-my-password", "new_password": "my-new-password", "confirm": "my-new-password"}
    for _ in range(throttle.FREE_TRIES):
        assert here.post("/users/password", data=form | {"csrf_token": token}).status_code == 400
    refused = here.post("/users/password", data=form | {"password": PASSWORD, "csrf_token": token})
    assert refused.status_code == 429 and b"Try again in 1 second(s)" in refused.data
    assert login(client(app, REMOTE_ADDR="198.51.100.9"), "viewer").status_code == 302  # nothing changed


def test_failed_logins_keep_the_typed_username_only_hashed(app: Flask, connections: Connections) -> None:
    typed = "Summer2026!mypassword"  # a password typed into the username field
    login(client(app), typed, "wrong-password-guess")
    kept = str(list(connections.db.audit.find())) + str(list(connections.db.audit_notes.find()))
    assert "login failed" in kept and typed not in kept and typed.lower() not in kept
    with app.test_request_context():  # keyed with this deployment's secret key: computed here, it finds the entry
        target = typed_name(typed)
    assert target.startswith("typed-user:") and typed not in target
    assert connections.db.audit.find_one({"action": "login failed", "target": target})


def test_revoking_or_resetting_ends_every_session_of_that_account(app: Flask, settings: Settings) -> None:
    laptop, _ = signed_in(app, "reviewer", settings)
    phone, _ = signed_in(app, "reviewer", settings)
    viewer, _ = signed_in(app, "viewer", settings)
    admin, token = signed_in(app, "admin", settings)
    admin.post("/users/reviewer/revoke", data={"csrf_token": token})
    assert laptop.get("/").status_code == 302 and phone.get("/").status_code == 302
    assert viewer.get("/").status_code == 200  # only that account's sessions
    admin.post("/users/viewer/password", data={"password": "short", "csrf_token": token})
    assert viewer.get("/").status_code == 200  # refused: too short, nothing changed
    admin.post("/users/viewer/password", data={"password": "a-new-long-password", "csrf_token": token})
    assert viewer.get("/").status_code == 302
    assert login(client(app), "viewer").status_code == 200  # the old password no longer works
    assert login(client(app), "viewer", "a-new-long-password").status_code == 302


def test_changing_your_own_password_keeps_this_session_and_ends_the_others(app: Flask, settings: Settings) -> None:
    here, token = signed_in(app, "viewer", settings)
    elsewhere, _ = signed_in(app, "viewer", settings)
    form = {"password": "not-my-password", "new_password": "my-new-password", "confirm": "my-new-password"}
    assert here.post("/users/password", data=form | {"csrf_token": token}).status_code == 400
    form["password"] = PASSWORD
    assert here.post("/users/password", data=form | {"csrf_token": token}).status_code == 302
    assert here.get("/").status_code == 200 and elsewhere.get("/").status_code == 302
    assert login(client(app), "viewer", "my-new-password").status_code == 302


def test_the_command_line_disables_resets_and_signs_out(app: Flask, settings: Settings) -> None:
    runner = CliRunner(env=env_of(settings))
    browser, _ = signed_in(app, "reviewer", settings)
    assert runner.invoke(group, ["user", "revoke-sessions", "reviewer"]).exit_code == 0
    assert browser.get("/").status_code == 302
    assert runner.invoke(group, ["user", "disable", "reviewer"]).exit_code == 0
    assert "reviewer\treviewer\tdisabled" in runner.invoke(group, ["user", "list"]).output
    assert b"disabled" in login(client(app), "reviewer").data
    assert runner.invoke(group, ["user", "enable", "reviewer"]).exit_code == 0
    changed = runner.invoke(group, ["user", "set-password", "reviewer", "--password", "another-long-one"])
    assert changed.exit_code == 0, changed.output
    assert login(client(app), "reviewer", "another-long-one").status_code == 302
    missing = runner.invoke(group, ["user", "disable", "nobody"])
    assert missing.exit_code != 0 and "no user named 'nobody'" in missing.output


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
                + f"Content-Length: {MAX_UPLOAD_BYTES + 1}\r\n\r\n".encode()
            )
            status = connection.recv(200).split(b"\r\n")[0]
        assert status == b"HTTP/1.1 413 Request Entity Too Large"
    finally:
        server.close()
        server.task_dispatcher.shutdown()
        thread.join(10)
