"""`homeward audit verify`: walk the audit log's hash chain and say where it breaks, if it does."""

from __future__ import annotations

import click

from cli import settings as cli_settings
from infra.services import backing_services
from storage.audit import verify_chain
from storage.connections import connect


@click.group("audit")
def audit_group() -> None:
    """The panel's audit log."""


@audit_group.command("verify")
def verify_command() -> None:
    """Check every audit entry against the one before it; exit 1 naming the first broken entry."""
    settings = cli_settings.load()
    with backing_services(settings) as urls:
        connections = connect(urls.mongodb_uri, settings.mongodb_database, urls.redis_url)
        try:
            verdict = verify_chain(connections.db)
        finally:
            connections.close()
    if not verdict.ok:
        click.echo(f"audit chain BROKEN after {verdict.entries} intact entries: {verdict.problem}", err=True)
        raise SystemExit(1)
    click.echo(f"audit chain intact: {verdict.entries} entries, head {verdict.head}")
    click.echo("(keep the head hash elsewhere: entries cut off the end are noticed only against a kept head)")
