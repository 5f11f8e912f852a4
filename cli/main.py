"""`homeward`: the one command line (the console script in pyproject.toml; `python -m admin.cli` is an alias).

Commands that need the database join the servers `make run` started, or
start the embedded ones for the length of the command.
"""

from __future__ import annotations

import click

from cli import api_keys, audit, bench, doctor, evaluation, found, hooks, keys, orgs, photos, reembed, telegram, users


@click.group("homeward")
def group() -> None:
    """Homeward administration."""


group.add_command(users.create_user_command)
group.add_command(users.user_group)
group.add_command(orgs.org_group)
group.add_command(photos.embed_command)
group.add_command(reembed.reembed_command)
group.add_command(doctor.doctor_command)
group.add_command(keys.rotate_key_command)
group.add_command(telegram.set_telegram_webhook_command)
group.add_command(evaluation.eval_group)
group.add_command(bench.bench_group)
group.add_command(audit.audit_group)
group.add_command(found.found_group)
group.add_command(api_keys.api_key_group)
group.add_command(hooks.hooks_group)


if __name__ == "__main__":
    group()
