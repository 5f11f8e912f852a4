"""`homeward create-user`: accounts for the admin panel."""

from __future__ import annotations

import click

from cli import settings as cli_settings
from infra.services import backing_services
from storage.connections import connect
from storage.users import ROLES, UserExists, create_user


@click.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="reviewer", show_default=True)
@click.password_option(help="At least 10 characters; asked for when not given.")
def create_user_command(username: str, role: str, password: str) -> None:
    """Create an account for the admin panel."""
    settings = cli_settings.load()
    with backing_services(settings) as urls:
        connections = connect(urls.mongodb_uri, settings.mongodb_database, urls.redis_url, settings.data_keys())
        try:
            create_user(connections.db, username, password, role)
        except (UserExists, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            connections.close()
    click.echo(f"created {role} {username!r}")
