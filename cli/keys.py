"""`homeward rotate-key`: seal every photo and face encoding under a new data key.

With the generated key (no HOMEWARD_DATA_KEY), a new key is written first in
the data dir's `data_keys` file with the old one after it, so every process
(running ones reload the file) reads both while everything is re-sealed;
the old key is dropped from the file once nothing needs it. Interrupted, the
command is simply run again: it finishes the same rotation.

With HOMEWARD_DATA_KEY, the keys are the operator's: put the new key first
and the old one after it, restart the web and workers, run this, then drop
the old key and restart again. With one key there, it seals what was stored
before encryption existed (and says how to rotate).
"""

from __future__ import annotations

import time

import click

from cli import settings as cli_settings
from cli.users import CLI_USER
from config import ConfigError
from config.keys import DataKeys, new_key, write_keys
from infra.services import backing_services
from storage.audit import audit
from storage.connections import connect
from storage.rotation import Progress, not_under_current_key, reseal_everything
from storage.sealing import key_id, keyring

PASSES = 3  # a value sealed under the old key by a process that had not yet seen the new one is caught by the next


@click.command("rotate-key")
def rotate_key_command() -> None:
    """Re-encrypt every stored photo and face encoding under a new data key."""
    settings = cli_settings.load()
    try:
        keys = settings.data_keys()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    keys = _begin(keys)
    with backing_services(settings) as urls:
        connections = connect(urls.mongodb_uri, settings.mongodb_database, urls.redis_url, keys)
        try:
            # Signed under the new key: it vouches for the audit entries signed under the old one once that is gone.
            audit(connections.db, CLI_USER, "rotate key", f"key:{key_id(keys.keys[0]).hex()}")
            for _ in range(PASSES):
                done = reseal_everything(connections.db, keyring(), _progress_line())
                click.echo(
                    f"re-sealed {done.faces} face encodings, {done.photos} photos, {done.locations} locations, "
                    f"{done.secrets} webhook secrets"
                )
                if not_under_current_key(connections.db, keyring()) == 0:
                    break
            else:
                raise click.ClickException("values under an old key keep appearing: run `homeward rotate-key` again")
        finally:
            connections.close()
    _finish(keys)


def _begin(keys: DataKeys) -> DataKeys:
    """The keys to rotate with: a new first key, unless a rotation is under way (or the keys are the operator's)."""
    current = key_id(keys.keys[0]).hex()
    if keys.file is None:
        if len(keys.keys) == 1:
            click.echo(
                f"HOMEWARD_DATA_KEY holds one key ({current}): sealing what is not under it yet. To rotate, put a new "
                "key first and this one after it (HOMEWARD_DATA_KEY='<new> <old>'), restart the web and workers, "
                "and run `homeward rotate-key` again."
            )
        else:
            click.echo(f"rotating to the first key of HOMEWARD_DATA_KEY ({current})")
        return keys
    if len(keys.keys) > 1:
        click.echo(f"finishing the rotation to key {current} that was interrupted")
        return keys
    rotated = DataKeys((new_key(), *keys.keys), keys.file)
    write_keys(keys.file, rotated.keys)
    click.echo(f"new data key {key_id(rotated.keys[0]).hex()}; the old key {current} stays readable until done")
    return rotated


def _finish(keys: DataKeys) -> None:
    current = key_id(keys.keys[0]).hex()
    if keys.file is not None:
        if len(keys.keys) > 1:
            write_keys(keys.file, keys.keys[:1])
        click.echo(f"done: everything is sealed under key {current}; the old key was removed from {keys.file}")
    elif len(keys.keys) > 1:
        click.echo(
            f"done: everything is sealed under key {current}. Remove the other key(s) from HOMEWARD_DATA_KEY "
            "and restart the web and workers."
        )
    else:
        click.echo(f"done: everything is sealed under key {current}")


def _progress_line() -> Progress:
    """Print `faces 400/1200` lines, at most one a second per kind, and the last of each kind."""
    last: dict[str, float] = {}

    def report(what: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last.get(what, 0.0) >= 1.0:
            last[what] = now
            click.echo(f"  {what} {done}/{total}")

    return report
