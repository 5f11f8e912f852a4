"""API keys as an operator makes and revokes them: at the command line and on the panel's page; shown once, kept
only as a hash, their last use listed, a revoked one refused at its next call."""

from __future__ import annotations

import json

from click.testing import CliRunner
from flask import Flask

from admin.app import create_app
from cli.main import group
from config import Settings
from storage.api_keys import key_hash
from storage.connections import Connections
from storage.organisations import create_organisation
from tests.test_cli import env_of
from tests.test_panel_security import signed_in


def call(app: Flask, key: str) -> int:
    return app.test_client().get("/api/v1/found-persons", headers={"Authorization": f"Bearer {key}"}).status_code


def test_the_command_line_makes_lists_and_revokes_keys(settings: Settings, connections: Connections) -> None:
    db, runner = connections.db, CliRunner(env=env_of(settings))
    create_organisation(db, "Sunrise Shelter", "shelter")
    made = runner.invoke(group, ["api-key", "create", "Sunrise Shelter", "--scopes", "found:read,found:write"])
    assert made.exit_code == 0, made.output
    key = made.output.strip().splitlines()[-1]
    assert key.startswith("hw_") and len(key) > 40
    stored = db.api_keys.find_one()
    assert stored["hash"] == key_hash(key) and key not in json.dumps(stored, default=str)
    assert stored["scopes"] == ["found:read", "found:write"]
    app = create_app(settings, connections)
    assert call(app, key) == 200
    listed = json.loads(runner.invoke(group, ["api-key", "list", "--json"]).output)
    assert listed[0]["organisation"] == "Sunrise Shelter" and listed[0]["last_used_at"] and not listed[0]["revoked_at"]
    assert key not in runner.invoke(group, ["api-key", "list"]).output
    revoked = runner.invoke(group, ["api-key", "revoke", listed[0]["id"]])
    assert revoked.exit_code == 0, revoked.output
    assert call(app, key) == 401
    wrong = runner.invoke(group, ["api-key", "create", "Sunrise Shelter", "--scopes", "found:delete"])
    assert wrong.exit_code != 0 and "found:read" in wrong.output
    operator = runner.invoke(group, ["api-key", "create", "Homeward", "--scopes", "found:read"])
    assert operator.exit_code != 0 and "partner" in operator.output
    actions = [e["action"] for e in db.audit.find({"target": f"api-key:{listed[0]['id']}"}).sort("seq", 1)]
    assert actions == ["create api key", "revoke api key"]


def test_an_admin_makes_a_key_on_the_panel_sees_it_once_and_revokes_it(
    settings: Settings, connections: Connections
) -> None:
    db, app = connections.db, create_app(settings, connections)
    shelter = create_organisation(db, "Sunrise Shelter", "shelter")
    browser, token = signed_in(app, "admin", settings)
    form = {"csrf_token": token, "organisation": str(shelter), "name": "admissions", "scopes": ["found:read"]}
    page = browser.post("/api-keys/", data=form).get_data(as_text=True)
    key = page.split('<pre id="new-key">')[1].split("</pre>")[0]
    assert key.startswith("hw_") and call(app, key) == 200
    listing = browser.get("/api-keys/").get_data(as_text=True)
    assert key not in listing and key[:10] in listing and "admissions" in listing and "never" not in listing
    assert browser.post("/api-keys/", data=form | {"scopes": []}).status_code == 400
    stored = db.api_keys.find_one()
    browser.post(f"/api-keys/{stored['_id']}/revoke", data={"csrf_token": token})
    assert call(app, key) == 401
    assert "revoked" in browser.get("/api-keys/").get_data(as_text=True)
