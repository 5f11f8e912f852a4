"""`homeward found import`: an organisation's found persons from a CSV and their photos (a ZIP or a folder).

Bad rows are reported, not fatal (exit 0): the last line on stdout is the
JSON summary. An unknown organisation, an unreadable CSV or an unsafe ZIP
stop the import before anything is stored (exit 1, one line saying why).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from cli import settings as cli_settings
from cli.engine import load_engine
from cli.users import CLI_USER
from core.found.archive import UnsafeArchive
from core.found.sheet import UnreadableSheet, read_sheet
from infra.services import backing_services
from services.found_import import Summary, analyser, import_sheet, open_photos
from services.queue import make_queue
from storage.audit import audit
from storage.connections import connect
from storage.organisations import NoSuchOrganisation, require_organisation


@click.group("found")
def found_group() -> None:
    """Found persons: the people partner organisations hold."""


@found_group.command("import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--photos", "photos_path", required=True, type=click.Path(exists=True, path_type=Path), help="ZIP or folder."
)
@click.option("--org", "organisation", required=True, help="The organisation holding these people (name or id).")
@click.option("--dry-run", is_flag=True, help="Check every row and photo, store nothing.")
def import_command(csv_file: Path, photos_path: Path, organisation: str, dry_run: bool) -> None:
    """Import found persons: columns external_id, found_on, found_place, held_at, age_min, age_max, gender,
    condition, description, photos (file names separated by ;). See docs/operators/found-import.md."""
    summary = run_import(csv_file, photos_path, organisation, dry_run)
    click.echo(json.dumps(summary.as_dict()))


def run_import(csv_file: Path, photos_path: Path, organisation: str, dry_run: bool = False) -> Summary:
    """The import as the command runs it (the benchmark calls it too); click errors for what stops it."""
    settings = cli_settings.load()
    try:
        sheet = read_sheet(csv_file.read_bytes())
        photos = open_photos(photos_path)
    except UnreadableSheet as exc:
        raise click.ClickException(f"{csv_file}: {exc}") from None
    except UnsafeArchive as exc:
        raise click.ClickException(f"{photos_path}: {exc}") from None
    engine = load_engine(settings, None)
    with backing_services(settings) as urls:
        connections = connect(urls.mongodb_uri, settings.mongodb_database, urls.redis_url, settings.data_keys())
        try:
            org = require_organisation(connections.db, organisation)
            queue = make_queue(connections.redis)
            label = "checking" if dry_run else "importing"
            with click.progressbar(length=len(sheet.rows), label=label, file=sys.stderr) as bar:
                summary = import_sheet(
                    connections.db, queue, org["_id"], sheet, photos, analyser(settings, engine),
                    CLI_USER, dry_run, bar.update,
                )  # fmt: skip
            if not dry_run:
                counts = {k: v for k, v in summary.as_dict().items() if k in ("imported", "updated", "unchanged")}
                detail = f"{csv_file.name}: {counts}, {len(summary.rejected)} rejected"
                audit(connections.db, CLI_USER, "import found persons", f"organisation:{org['_id']}", detail)
            return summary
        except NoSuchOrganisation as exc:
            raise click.ClickException(str(exc)) from None
        except UnsafeArchive as exc:
            raise click.ClickException(f"{photos_path}: {exc}") from None
        finally:
            connections.close()
