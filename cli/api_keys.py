"""`homeward api-key create|list|revoke`: the keys an organisation's own systems call /api/v1/ with.

The key is printed once, as the last line of `create` (scripts take it with `tail -1`); only its hash is kept.
Each creation and revocation is in the audit log.
"""

from __future__ import annotations

import json

import click
from bson import ObjectId

from cli.users import CLI_USER, database
from storage.api_keys import SCOPES, InvalidKeyRequest, create_api_key, find_api_key, list_api_keys, revoke_api_key
from storage.audit import audited
from storage.organisations import NoSuchOrganisation, list_organisations, require_organisation


@click.group("api-key")
def api_key_group() -> None:
    """Create, list or revoke organisations' API keys (/api/v1/)."""


@api_key_group.command("create")
@click.argument("organisation")
@click.option(
    "--scopes",
    required=True,
    help=f"comma-separated, among {', '.join(SCOPES)}",
)
@click.option("--name", default="", help="what the key is for (say, 'admissions system')")
def create_command(organisation: str, scopes: str, name: str) -> None:
    """A key of ORGANISATION (name or id); its last line is the key, shown this once."""
    chosen = [scope.strip() for scope in scopes.replace(" ", ",").split(",") if scope.strip()]
    with database() as db:
        try:
            org = require_organisation(db, organisation)
            key_id = ObjectId()
            with audited(db, CLI_USER, "create api key", f"api-key:{key_id}", f"{org['_id']} {','.join(chosen)}"):
                made = create_api_key(db, org["_id"], chosen, CLI_USER, name, key_id=key_id)
        except (NoSuchOrganisation, InvalidKeyRequest) as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"created API key {made.id} of {org['name']!r} ({', '.join(chosen)}); it is shown only now:")
    click.echo(made.secret)


@api_key_group.command("list")
@click.option("--org", "organisation", default=None, help="only this organisation's keys")
@click.option("--json", "as_json", is_flag=True, help="one JSON array, for scripts")
def list_command(organisation: str | None, as_json: bool) -> None:
    """Every key: id, organisation, scopes, its first characters, last use, revoked or not."""
    with database() as db:
        try:
            org = require_organisation(db, organisation)["_id"] if organisation else None
        except NoSuchOrganisation as exc:
            raise click.ClickException(str(exc)) from None
        names = {o["_id"]: o["name"] for o in list_organisations(db)}
        rows = [key_row(key, names) for key in list_api_keys(db, org)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
        click.echo(
            f"{row['id']}  {row['organisation']}  {row['shown']}…  {','.join(row['scopes'])}  "
            f"last used {row['last_used_at'] or 'never'}  {state}  {row['name']}".rstrip()
        )


@api_key_group.command("revoke")
@click.argument("key_id")
def revoke_command(key_id: str) -> None:
    """Stop KEY_ID at once (its next call answers 401)."""
    with database() as db:
        key = find_api_key(db, key_id)
        if key is None:
            raise click.ClickException(f"no API key {key_id}; `homeward api-key list` shows them")
        with audited(db, CLI_USER, "revoke api key", f"api-key:{key['_id']}"):
            revoked = revoke_api_key(db, key["_id"], CLI_USER)
    click.echo(f"revoked API key {key_id}" if revoked else f"API key {key_id} was already revoked")


def key_row(key: dict, names: dict) -> dict[str, object]:  # type: ignore[type-arg]
    """A key as people read it: never its hash."""

    def text(moment: object) -> str | None:
        return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else None  # type: ignore[attr-defined]

    return {
        "id": str(key["_id"]),
        "organisation": names.get(key["organisation"], str(key["organisation"])),
        "name": key.get("name", ""),
        "scopes": key["scopes"],
        "shown": key["shown"],
        "created_at": text(key.get("created_at")),
        "last_used_at": text(key.get("last_used_at")),
        "revoked_at": text(key.get("revoked_at")),
    }
