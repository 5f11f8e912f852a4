"""A partner organisation's webhooks, for operator admins: its endpoints, their secrets, and the delivery log.

Not admin/webhooks.py (the chat platforms calling in): these are Homeward calling a partner's systems. A secret
is shown once, in the answer to the form that made it (never in a flashed message: the session cookie is only
signed); every change and every redelivery is in the audit log.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from admin.auth import current_user, require
from admin.context import homeward
from core.partner_hooks import EVENTS, HookRefused
from services.partner_events import redeliver_now, register_endpoint
from storage.audit import audited
from storage.connections import Database
from storage.organisations import find_organisation
from storage.partner_events import delivery_log
from storage.partner_hooks import NoSuchEndpoint, list_endpoints, remove_endpoint, require_endpoint, rotate_secret

blueprint = Blueprint("partner_hooks", __name__, url_prefix="/organisations/<organisation_id>/hooks")
URL_LIMIT = 2000


@blueprint.get("/")
@require("admin")
def index(organisation_id: str) -> str:
    return _page(_organisation(organisation_id))


@blueprint.post("/")
@require("admin")
def add(organisation_id: str) -> Any:
    db, settings = homeward().connections.db, homeward().settings
    organisation = _organisation(organisation_id)
    url, events = request.form.get("url", "").strip()[:URL_LIMIT], request.form.getlist("events")
    try:
        with audited(db, _me(), "add webhook", f"organisation:{organisation['_id']}", ", ".join(events)):
            endpoint, secret = register_endpoint(
                db, organisation["_id"], url, events, _me(), settings.partner_hooks_allow_private
            )
    except HookRefused as exc:
        flash(f"Nothing added: {exc}.")
        return redirect(url_for("partner_hooks.index", organisation_id=organisation["_id"]))
    return _page(organisation, shown={"endpoint": str(endpoint), "secret": secret})


@blueprint.post("/<endpoint_id>/rotate")
@require("admin")
def rotate(organisation_id: str, endpoint_id: str) -> Any:
    db, organisation, endpoint = _endpoint(organisation_id, endpoint_id)
    with audited(db, _me(), "rotate webhook secret", f"partner_hook:{endpoint['_id']}"):
        secret = rotate_secret(db, endpoint["_id"])
    return _page(organisation, shown={"endpoint": str(endpoint["_id"]), "secret": secret, "rotated": True})


@blueprint.post("/<endpoint_id>/remove")
@require("admin")
def remove(organisation_id: str, endpoint_id: str) -> Any:
    db, organisation, endpoint = _endpoint(organisation_id, endpoint_id)
    with audited(db, _me(), "remove webhook", f"partner_hook:{endpoint['_id']}"):
        remove_endpoint(db, endpoint["_id"])
    flash(f"Removed {endpoint['url']}; its deliveries still waiting will not be sent.")
    return redirect(url_for("partner_hooks.index", organisation_id=organisation["_id"]))


@blueprint.post("/deliveries/<delivery_id>/redeliver")
@require("admin")
def redeliver_one(organisation_id: str, delivery_id: str) -> Any:
    db = homeward().connections.db
    organisation = _organisation(organisation_id)
    with audited(db, _me(), "redeliver webhook", f"partner_delivery:{_object_id(delivery_id)}"):
        delivery = redeliver_now(db, homeward().queue, _object_id(delivery_id), organisation["_id"])
    if delivery is None:
        flash("Nothing sent: that delivery is still under way (or not this organisation's).")
    else:
        flash(f"Sending {delivery['type']} {delivery['event_id']} again, with the same event id.")
    return redirect(url_for("partner_hooks.index", organisation_id=organisation["_id"]))


def _page(organisation: dict[str, Any], shown: dict[str, Any] | None = None) -> str:
    db = homeward().connections.db
    return render_template(
        "partner_hooks.html",
        organisation=organisation,
        endpoints=list_endpoints(db, organisation["_id"]),
        deliveries=delivery_log(db, organisation["_id"]),
        events=EVENTS,
        shown=shown,
    )


def _organisation(organisation_id: str) -> dict[str, Any]:
    organisation = find_organisation(homeward().connections.db, organisation_id)
    if organisation is None:
        abort(404)
    return organisation


def _endpoint(organisation_id: str, endpoint_id: str) -> tuple[Database, dict[str, Any], dict[str, Any]]:
    """The database, the organisation and its endpoint named in the path; 404 when either is not there."""
    db, organisation = homeward().connections.db, _organisation(organisation_id)
    try:
        return db, organisation, require_endpoint(db, endpoint_id, organisation["_id"])
    except NoSuchEndpoint:
        abort(404)


def _object_id(text: str) -> ObjectId:
    try:
        return ObjectId(text)
    except (InvalidId, TypeError):
        abort(404)


def _me() -> str:
    return current_user()["username"]  # type: ignore[index]
