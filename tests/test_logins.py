"""Logins and sessions: throttled per username and address, one answer for every refusal, sessions that end."""

from __future__ import annotations

import dataclasses
import time

from click.testing import CliRunner
from flask import Flask

from admin import throttle
from admin.app import create_app
from admin.auth import typed_name
from cli.main import group
from config import Settings
from storage.connections import Connections
from storage.users import create_user
from tests import test_panel_security as panel
from tests.test_cli import env_of
from tests.test_panel_security import OUTSIDE, PASSWORD, REFUSED, client, login, signed_in, without_token

# The panel's fixtures, shared: the same users, and the app bound to every address as the Procfile runs it.
app, environment = panel.app, panel.environment


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
