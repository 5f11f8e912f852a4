"""`homeward create-user` and `homeward user …`: accounts for the admin panel.

Disabling an account, setting its password or revoking its sessions ends every
session it has (its session epoch moves on); each change is in the audit log.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from cli import settings as cli_settings
from infra.services import backing_services
from storage.audit import audited
from storage.connections import Database, connect
from storage.organisations import NoSuchOrganisation, list_organisations, require_organisation
from storage.users import (
    PARTNER_ROLES,
    ROLES,
    NoSuchUser,
    UserExists,
    create_user,
    list_users,
    revoke_sessions,
    set_disabled,
    set_password,
)

# Who the audit log names for changes made at the command line.
CLI_USER = "cli"


@contextmanager
def database() -> Iterator[Database]:
    settings = cli_settings.load()
    with backing_services(settings) as urls:
        connections = connect(urls.mongodb_uri, settings.mongodb_database, urls.redis_url, settings.data_keys())
        try:
            yield connections.db
        finally:
            connections.close()


def _create_options(command):  # type: ignore[no-untyped-def]
    command = click.password_option(help="At least 10 characters; asked for when not given.")(command)
    command = click.option("--org", "org", default=None, help="the partner organisation of a registrar")(command)
    command = click.option("--role", type=click.Choice(ROLES), default="reviewer", show_default=True)(command)
    return click.argument("username")(command)


@click.command("create-user")
@_create_options
def create_user_command(username: str, role: str, org: str | None, password: str) -> None:
    """Create an account for the admin panel (the same as `homeward user create`)."""
    _create(username, role, org, password)


def _create(username: str, role: str, org: str | None, password: str) -> None:
    if role in PARTNER_ROLES and not org:
        raise click.ClickException(
            f"a {role} belongs to a partner organisation: add --org NAME "
            "(`homeward org list` shows them, `homeward org create NAME --kind shelter` makes one)"
        )
    with database() as db:
        try:
            organisation = require_organisation(db, org)["_id"] if org else None
            with audited(db, CLI_USER, "create user", f"user:{username}", role):
                create_user(db, username, password, role, organisation)
        except (UserExists, NoSuchOrganisation, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"created {role} {username!r}" + (f" of {org!r}" if org else ""))


@click.group("user")
def user_group() -> None:
    """List, disable, enable, set the password of, or sign out an account of the admin panel."""


@user_group.command("create")
@_create_options
def create_command(username: str, role: str, org: str | None, password: str) -> None:
    """Create an account for the admin panel; a registrar needs --org, its partner organisation."""
    _create(username, role, org, password)


@user_group.command("list")
def list_command() -> None:
    """Every account: username, role, active or disabled, organisation."""
    with database() as db:
        names = {org["_id"]: org["name"] for org in list_organisations(db)}
        for user in list_users(db):
            state = "disabled" if user.get("disabled") else "active"
            click.echo(f"{user['username']}\t{user['role']}\t{state}\t{names.get(user.get('organisation'), '')}")


@user_group.command("disable")
@click.argument("username")
def disable_command(username: str) -> None:
    """Refuse this account's logins and end its sessions."""
    _change(username, "disable user", set_disabled, True)
    click.echo(f"disabled {username!r}; its sessions have ended")


@user_group.command("enable")
@click.argument("username")
def enable_command(username: str) -> None:
    """Let a disabled account log in again."""
    _change(username, "enable user", set_disabled, False)
    click.echo(f"enabled {username!r}")


@user_group.command("set-password")
@click.argument("username")
@click.password_option(help="At least 10 characters; asked for when not given.")
def set_password_command(username: str, password: str) -> None:
    """Give an account a new password; its sessions end."""
    _change(username, "set password", set_password, password)
    click.echo(f"set a new password for {username!r}; its sessions have ended")


@user_group.command("revoke-sessions")
@click.argument("username")
def revoke_command(username: str) -> None:
    """Sign an account out everywhere (a lost laptop, a shared computer)."""
    _change(username, "revoke sessions", revoke_sessions)
    click.echo(f"ended every session of {username!r}")


def _change(username: str, action: str, change: Callable[..., None], *args: Any) -> None:
    with database() as db:
        try:
            with audited(db, CLI_USER, action, f"user:{username}"):
                change(db, username, *args)
        except (NoSuchUser, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
