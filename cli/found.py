"""`homeward found import`: an organisation's found persons from a CSV and their photos (a ZIP or a folder);
`homeward found erase`: one of them forgotten at the organisation's request.

Bad rows are reported, not fatal (exit 0): the last line on stdout is the
JSON summary. An unknown organisation, an unreadable CSV or an unsafe ZIP
stop the import before anything is stored (exit 1, one line saying why).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from bson import ObjectId
from pymongo.database import Database

from cli import settings as cli_settings
from cli.engine import chosen_engine, load_engine
from cli.users import CLI_USER, database
from core.found.archive import UnsafeArchive
from core.found.sheet import Sheet, UnreadableSheet, read_sheet
from infra.services import backing_services
from services.face_pool import EngineSpec, FaceAnalyser
from services.found_import import PhotoSource, Summary, import_sheet, open_photos
from services.queue import make_queue
from storage.audit import audit
from storage.connections import connect
from storage.erasure import erase_found_person
from storage.found_persons import find_found_person
from storage.organisations import NoSuchOrganisation, require_organisation

POOL_FROM_ROWS = 100  # below this a pool's start (each process loads the face models) costs more than it saves


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
@click.option(
    "--workers", type=click.IntRange(1, 64), default=None, help="Processes analysing faces (default: 1 for under "
    f"{POOL_FROM_ROWS} rows, else one per core)."
)  # fmt: skip
def import_command(csv_file: Path, photos_path: Path, organisation: str, dry_run: bool, workers: int | None) -> None:
    """Import found persons: columns external_id, found_on, found_place, held_at, age_min, age_max, gender,
    condition, description, photos (file names separated by ;). See docs/operators/found-import.md."""
    summary = run_import(csv_file, photos_path, organisation, dry_run, workers)
    click.echo(json.dumps(summary.as_dict()))


def run_import(
    csv_file: Path, photos_path: Path, organisation: str, dry_run: bool = False, workers: int | None = None
) -> Summary:
    """The import as the command runs it (the benchmark calls it too); click errors for what stops it."""
    settings = cli_settings.load()
    sheet, photos = _read_inputs(csv_file, photos_path)
    spec = EngineSpec.of(settings, chosen_engine(settings, None))  # the licence asked for before anything runs
    workers = workers or (1 if len(sheet.rows) < POOL_FROM_ROWS else os.cpu_count() or 1)
    with backing_services(settings) as urls:
        connections = connect(urls.mongodb_uri, settings.mongodb_database, urls.redis_url, settings.data_keys())
        try:
            org = _organisation(connections.db, organisation)
            with FaceAnalyser(spec, workers, lambda: load_engine(settings, spec.name)) as analyser:
                label = "checking" if dry_run else "importing"
                with click.progressbar(length=len(sheet.rows), label=label, file=sys.stderr) as bar:
                    queue = make_queue(connections.redis)
                    summary = import_sheet(
                        connections.db, queue, org, sheet, photos, analyser, CLI_USER, dry_run, bar.update
                    )
            if not dry_run:
                counts = ", ".join(f"{summary.as_dict()[k]} {k}" for k in ("imported", "updated", "unchanged"))
                detail = f"{csv_file.name}: {counts}, {len(summary.rejected)} rejected"
                audit(connections.db, CLI_USER, "import found persons", f"organisation:{org}", detail)
            return summary
        except UnsafeArchive as exc:  # a member whose header lied about its size
            raise click.ClickException(f"{photos_path}: {exc}") from None
        finally:
            connections.close()


def _read_inputs(csv_file: Path, photos_path: Path) -> tuple[Sheet, PhotoSource]:
    try:
        return read_sheet(csv_file.read_bytes()), open_photos(photos_path)
    except UnreadableSheet as exc:
        raise click.ClickException(f"{csv_file}: {exc}") from None
    except UnsafeArchive as exc:
        raise click.ClickException(f"{photos_path}: {exc}") from None


def _organisation(db: Database, name: str) -> ObjectId:
    try:
        return require_organisation(db, name)["_id"]
    except NoSuchOrganisation as exc:
        raise click.ClickException(str(exc)) from None


@found_group.command("erase")
@click.argument("reference")
@click.option("--org", "organisation", required=True, help="The organisation holding the person (name or id).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase_command(reference: str, organisation: str, yes: bool) -> None:
    """Erase a found person at its organisation's request: photos, faces, candidates, notes, the record."""
    reference = reference.strip().upper()
    with database() as db:
        org = _organisation(db, organisation)
        if find_found_person(db, reference, organisation=org) is None:
            raise click.ClickException(f"{organisation} holds no found person {reference}; check the reference")
        if not yes:
            click.confirm(f"Erase {reference} and everything about it? This cannot be undone", abort=True)
        audit(db, CLI_USER, "erase found person", f"found:{reference}", f"at the request of organisation {org}")
        erased = erase_found_person(db, reference)
    click.echo(json.dumps({"erased": reference} | erased))
