"""`homeward hooks add|list|rotate|remove`: a partner organisation's webhook endpoints, as on its panel page.

A secret is printed once, as the last line of `add` and `rotate`, for a script to keep; Homeward keeps it sealed.
Each change is in the audit log.
"""

from __future__ import annotations

import json
from typing import Any

import click

from cli import settings as cli_settings
from cli.users import CLI_USER, database
from core.partner_hooks import EVENTS, HookRefused
from services.partner_events import register_endpoint
from storage.audit import audited
from storage.connections import Database
from storage.organisations import NoSuchOrganisation, require_organisation
from storage.partner_hooks import NoSuchEndpoint, list_endpoints, remove_endpoint, require_endpoint, rotate_secret


@click.group("hooks")
def hooks_group() -> None:
    """Add, list, rotate or remove the webhook endpoints a partner organisation's systems listen on."""


@hooks_group.command("add")
@click.argument("org")
@click.argument("url")
@click.option(
    "--event", "events", multiple=True, type=click.Choice(EVENTS), help="an event to send (repeat; default: all)"
)
def add_command(org: str, url: str, events: tuple[str, ...]) -> None:
    """Register URL (https://...) for ORG; prints the endpoint's id, then its secret (shown only this once)."""
    allow_private = cli_settings.load().partner_hooks_allow_private
    with database() as db:
        try:
            organisation = require_organisation(db, org)
            with audited(db, CLI_USER, "add webhook", f"organisation:{organisation['_id']}", ", ".join(events)):
                endpoint, secret = register_endpoint(
                    db, organisation["_id"], url, list(events or EVENTS), CLI_USER, allow_private
                )
        except (NoSuchOrganisation, HookRefused) as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"added endpoint {endpoint} for {organisation['name']!r}; its secret, shown only this once:")
    click.echo(secret)


@hooks_group.command("list")
@click.argument("org")
@click.option("--json", "as_json", is_flag=True, help="one JSON array, for scripts")
def list_command(org: str, as_json: bool) -> None:
    """ORG's endpoints: id, URL, events (never their secrets)."""
    with database() as db:
        try:
            organisation = require_organisation(db, org)
        except NoSuchOrganisation as exc:
            raise click.ClickException(str(exc)) from None
        rows = [
            {"id": str(e["_id"]), "url": e["url"], "events": e["events"], "rotated_at": str(e.get("rotated_at") or "")}
            for e in list_endpoints(db, organisation["_id"])
        ]
    if as_json:
        click.echo(json.dumps(rows))
        return
    for row in rows:
        click.echo(f"{row['id']}  {row['url']}  {','.join(row['events'])}")
    if not rows:
        click.echo(f"{organisation['name']!r} has no webhook endpoints; `homeward hooks add` registers one")


@hooks_group.command("rotate")
@click.argument("endpoint_id")
def rotate_command(endpoint_id: str) -> None:
    """A new secret for ENDPOINT_ID (printed last); the previous one stays valid for 24 hours."""
    with database() as db:
        endpoint = _endpoint(db, endpoint_id)
        with audited(db, CLI_USER, "rotate webhook secret", f"partner_hook:{endpoint['_id']}"):
            secret = rotate_secret(db, endpoint["_id"])
    click.echo(f"rotated the secret of {endpoint_id}; both are signed with for 24 hours. The new one:")
    click.echo(secret)


@hooks_group.command("remove")
@click.argument("endpoint_id")
def remove_command(endpoint_id: str) -> None:
    """Stop calling ENDPOINT_ID; deliveries still waiting for it are given up."""
    with database() as db:
        endpoint = _endpoint(db, endpoint_id)
        with audited(db, CLI_USER, "remove webhook", f"partner_hook:{endpoint['_id']}"):
            remove_endpoint(db, endpoint["_id"])
    click.echo(f"removed {endpoint['url']}")


def _endpoint(db: Database, endpoint_id: str) -> dict[str, Any]:
    try:
        return require_endpoint(db, endpoint_id)
    except NoSuchEndpoint as exc:
        raise click.ClickException(str(exc)) from None
