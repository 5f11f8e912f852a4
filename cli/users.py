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
from storage.users import (
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
def _database() -> Iterator[Database]:
    settings = cli_settings.load()
    with backing_services(settings) as urls:
        connections = connect(urls.mongodb_uri, settings.mongodb_database, urls.redis_url, settings.data_keys())
        try:
            yield connections.db
        finally:
            connections.close()


@click.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="reviewer", show_default=True)
@click.password_option(help="At least 10 characters; asked for when not given.")
def create_user_command(username: str, role: str, password: str) -> None:
    """Create an account for the admin panel."""
    with _database() as db:
        try:
            with audited(db, CLI_USER, "create user", f"user:{username}", role):
                create_user(db, username, password, role)
        except (UserExists, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"created {role} {username!r}")


@click.group("user")
def user_group() -> None:
    """List, disable, enable, set the password of, or sign out an account of the admin panel."""


@user_group.command("list")
def list_command() -> None:
    """Every account: username, role, active or disabled."""
    with _database() as db:
        for user in list_users(db):
            click.echo(f"{user['username']}\t{user['role']}\t{'disabled' if user.get('disabled') else 'active'}")


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
    with _database() as db:
        try:
            with audited(db, CLI_USER, action, f"user:{username}"):
                change(db, username, *args)
        except (NoSuchUser, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
