"""`homeward audit verify` and `anchor`: check the audit log's signed hash chain; print its head to keep elsewhere."""

from __future__ import annotations

import re

import click

from cli import settings as cli_settings
from config import ConfigError
from infra.services import backing_services
from storage.audit_verify import Verdict, verify_chain
from storage.connections import connect

ANCHOR = re.compile(r"(\d+):([0-9a-f]{64})")


@click.group("audit")
def audit_group() -> None:
    """The panel's audit log."""


def _parse_anchor(_context: click.Context, _parameter: click.Parameter, text: str | None) -> tuple[int, str] | None:
    if text is None:
        return None
    match = ANCHOR.fullmatch(text.strip().lower())
    if match is None:
        raise click.BadParameter(f"{text!r} is not SEQ:HASH; give a line `homeward audit anchor` printed")
    return int(match[1]), match[2]


@audit_group.command("verify")
@click.option(
    "--expect",
    metavar="SEQ:HASH",
    callback=_parse_anchor,
    help="A head kept elsewhere (from `homeward audit anchor`): fail unless entry SEQ still has that hash.",
)
def verify_command(expect: tuple[int, str] | None) -> None:
    """Check every audit entry against the one before it and its signature; exit 1 naming the first broken entry."""
    verdict = _verify(expect)
    if not verdict.ok:
        click.echo(f"audit chain BROKEN after {verdict.entries} intact entries: {verdict.problem}", err=True)
        raise SystemExit(1)
    signed = verdict.entries - verdict.unsigned
    click.echo(f"audit chain intact: {verdict.entries} entries ({signed} signed), head {verdict.anchor}")
    if expect:
        click.echo(f"it holds the kept head {expect[0]}:{expect[1]}")
    else:
        click.echo("(keep `homeward audit anchor` elsewhere and pass it as --expect: only that notices a cut-off tail)")


@audit_group.command("anchor")
def anchor_command() -> None:
    """Verify the chain, then print its head as SEQ:HASH (the last line) to keep off this machine."""
    verdict = _verify(None)
    if not verdict.ok:
        click.echo(f"not anchoring a broken audit chain: {verdict.problem}", err=True)
        raise SystemExit(1)
    click.echo(verdict.anchor)


def _verify(expect: tuple[int, str] | None) -> Verdict:
    settings = cli_settings.load()
    try:
        keys = settings.data_keys()  # the audit key is derived from them
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    with backing_services(settings) as urls:
        connections = connect(urls.mongodb_uri, settings.mongodb_database, urls.redis_url, keys)
        try:
            return verify_chain(connections.db, expect)
        finally:
            connections.close()
