"""`homeward org create|list|update`: the partner organisations (shelters, hospitals, police...) and their contacts.

The contact details are what a family is given when a person held there may be
their relative, so they are kept current here or on the panel's Organisations page;
each change is in the audit log.
"""

from __future__ import annotations

import json

import click

from cli.users import CLI_USER, database
from storage.audit import audited
from storage.organisations import (
    CONTACT_FIELDS,
    PARTNER_KINDS,
    NoSuchOrganisation,
    OrganisationExists,
    create_organisation,
    list_organisations,
    require_organisation,
    update_organisation,
)


def _contact_options(command):  # type: ignore[no-untyped-def]
    for field in reversed(CONTACT_FIELDS):
        command = click.option(f"--{field}", default=None, help=f"the {field} a family may be given")(command)
    return command


@click.group("org")
def org_group() -> None:
    """Create, list or update the organisations whose people use the panel."""


@org_group.command("create")
@click.argument("name")
@click.option("--kind", type=click.Choice(PARTNER_KINDS), required=True)
@_contact_options
def create_command(name: str, kind: str, **contact: str | None) -> None:
    """A partner organisation; then `homeward user create NAME --role registrar --org ORG` gives it accounts."""
    given = {key: value for key, value in contact.items() if value is not None}
    with database() as db:
        try:
            with audited(db, CLI_USER, "create organisation", f"organisation:{name[:64]}", kind):
                create_organisation(db, name, kind, **given)
        except (OrganisationExists, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"created {kind} {name!r}")


@org_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="one JSON array, for scripts")
def list_command(as_json: bool) -> None:
    """Every organisation: name, kind, address, phone, hours."""
    with database() as db:
        rows = [_row(org) for org in list_organisations(db)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    header = ("name", "kind", *CONTACT_FIELDS)
    widths = [max(len(str(row[key])) for row in [dict(zip(header, header, strict=True)), *rows]) for key in header]
    for row in [dict(zip(header, header, strict=True)), *rows]:
        click.echo("  ".join(str(row[key]).ljust(width) for key, width in zip(header, widths, strict=True)).rstrip())


@org_group.command("update")
@click.argument("name")
@click.option("--name", "new_name", default=None, help="a new name")
@click.option("--kind", type=click.Choice(PARTNER_KINDS), default=None)
@_contact_options
def update_command(name: str, new_name: str | None, kind: str | None, **contact: str | None) -> None:
    """Change an organisation's name, kind or contact details (only the options given)."""
    changes = {key: value for key, value in ({"name": new_name, "kind": kind} | contact).items() if value is not None}
    if not changes:
        raise click.ClickException("nothing to change: give --name, --kind, --address, --phone or --hours")
    if changes.get("name", "x").strip() == "":
        raise click.ClickException("--name cannot be empty: an organisation needs a name")
    with database() as db:
        try:
            organisation = require_organisation(db, name)
            detail = ", ".join(sorted(changes))
            with audited(db, CLI_USER, "update organisation", f"organisation:{organisation['_id']}", detail):
                update_organisation(db, organisation["_id"], **changes)
        except (NoSuchOrganisation, OrganisationExists, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"updated {changes.get('name', name)!r}: {', '.join(sorted(changes))}")


def _row(organisation: dict) -> dict[str, str]:  # type: ignore[type-arg]
    contact = organisation.get("contact") or {}
    return {"name": organisation["name"], "kind": organisation["kind"]} | {
        key: contact.get(key, "") for key in CONTACT_FIELDS
    }
