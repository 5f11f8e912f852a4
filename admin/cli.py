"""The command line: `python -m admin.cli COMMAND` (also `flask --app admin homeward COMMAND`).

Commands that need the database join the servers `make run` started, or
start the embedded ones for the length of the command.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import click

from config import ConfigError, Settings, load_settings
from core.errors import PhotoRejected
from infra.services import backing_services
from storage.connections import connect
from storage.users import ROLES, UserExists, create_user


@click.group("homeward")
def group() -> None:
    """Homeward administration."""


@group.command("create-user")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="reviewer", show_default=True)
@click.password_option(help="At least 10 characters; asked for when not given.")
def create_user_command(username: str, role: str, password: str) -> None:
    """Create an account for the admin panel."""
    settings = _settings()
    with backing_services(settings) as urls:
        connections = connect(urls.mongodb_uri, settings.mongodb_database, urls.redis_url)
        try:
            create_user(connections.db, username, password, role)
        except (UserExists, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            connections.close()
    click.echo(f"created {role} {username!r}")


@group.command("embed")
@click.argument("photos", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def embed_command(photos: tuple[Path, ...]) -> None:
    """Find the faces in photos and print each with its quality, as the workers would."""
    from core.faces.analysis import analyse_photo  # noqa: PLC0415 - loads the face models

    settings = _settings()
    for path in photos:
        try:
            result = analyse_photo(path.read_bytes(), settings.max_photo_bytes, settings.max_photo_pixels)
        except PhotoRejected as rejected:
            click.echo(f"{path}: rejected ({rejected.reason}) {rejected.detail}")
            continue
        click.echo(f"{path}: {result.width}x{result.height} {result.format}, {len(result.faces)} face(s), {result.timings_ms} ms")
        for number, face in enumerate(result.faces, 1):
            top, right, bottom, left = face.box
            click.echo(
                f"  face {number}: box {left},{top}-{right},{bottom} size {face.size_px}px "
                f"score {face.score:.2f} sharpness {face.sharpness:.0f} -> {face.quality} ({face.quality_reason})"
            )


@group.command("doctor")
def doctor_command() -> None:
    """Check the install: models load, servers reachable, data dir writable."""
    settings = _settings()
    checks: list[tuple[str, Callable[[], str]]] = [
        ("data dir writable", lambda: _check_writable(settings.data_dir)),
        ("face models load", _check_models),
        ("MongoDB and Redis reachable", lambda: _check_servers(settings)),
    ]
    failed = 0
    for name, check in checks:
        try:
            click.echo(f"ok    {name}: {check()}")
        except Exception as exc:  # noqa: BLE001 - doctor reports every failure and goes on
            failed += 1
            click.echo(f"FAIL  {name}: {exc}")
    if failed:
        raise click.ClickException(f"{failed} check(s) failed")


@group.command("set-telegram-webhook")
def set_telegram_webhook_command() -> None:
    """Tell Telegram to post updates to PUBLIC_BASE_URL/webhooks/telegram with the secret."""
    from bot.telegram import TelegramChannel  # noqa: PLC0415

    settings = _settings()
    if settings.telegram is None or not settings.public_base_url:
        raise click.ClickException("set TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET and PUBLIC_BASE_URL first")
    url = f"{settings.public_base_url}/webhooks/telegram"
    TelegramChannel(settings.telegram).set_webhook(url, settings.telegram.webhook_secret)
    click.echo(f"Telegram will post updates to {url}")


@group.group("eval")
def eval_group() -> None:
    """Measure the matcher as the literature does (a benchmark: figures, not pass/fail)."""


@eval_group.command("lfw-pairs")
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path), help="Labelled folder (default: HOMEWARD_FACES_DIR/lfw).")
@click.option("--pairs", "pairs_file", type=click.Path(dir_okay=False, path_type=Path), help="Pairs file, View 2 or View 1 (default: lfw-protocol/pairs.txt).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="JSON results (default: data dir/eval/lfw-pairs.json).")
def eval_pairs_command(folder: Path | None, pairs_file: Path | None, out: Path | None) -> None:
    """10-fold verification accuracy on LFW pairs, embedded with the service's pipeline."""
    from evaluation import report, runs  # noqa: PLC0415 - loads numpy and the face models
    from evaluation.embed import EmbeddingCache  # noqa: PLC0415

    settings = _settings()
    folder = folder or settings.faces_dir / "lfw"
    pairs_file = pairs_file or settings.faces_dir / "lfw-protocol" / "pairs.txt"
    result = runs.lfw_pairs(folder, pairs_file, EmbeddingCache(settings.data_dir / "eval" / "embeddings.sqlite"))
    report.print_pairs(result)
    report.save(result, out or settings.data_dir / "eval" / "lfw-pairs.json")


@eval_group.command("identify")
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path), help="Labelled folder (default: HOMEWARD_FACES_DIR/lfw).")
@click.option("--gallery-sizes", default="1000,all", show_default=True, help="Gallery sizes in identities; 'all' is every identity.")
@click.option("--nonmate-share", default=0.1, show_default=True, help="Share of identities whose photos are non-mated searches.")
@click.option("--variants", default="original,whatsapp,half,rotated", show_default=True, help="Probe degradations to run.")
@click.option("--seed", default=7, show_default=True)
@click.option("--case-jitters", default=1, show_default=True, help="num_jitters when encoding the cases' photos (the slow path).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="JSON results (default: data dir/eval/identify.json).")
def eval_identify_command(folder: Path | None, gallery_sizes: str, nonmate_share: float, variants: str, seed: int, case_jitters: int, out: Path | None) -> None:
    """Open-set identification: rank-1/5, FNIR at fixed FPIR, the configured bands, degraded probes."""
    from evaluation import report, runs  # noqa: PLC0415
    from evaluation.embed import EmbeddingCache  # noqa: PLC0415

    settings = _settings()
    sizes = [None if size.strip() == "all" else int(size) for size in gallery_sizes.split(",")]
    chosen = [v.strip() for v in variants.split(",")]
    unknown = set(chosen) - set(runs.VARIANTS)
    if unknown:
        raise click.ClickException(f"unknown variants {sorted(unknown)}; choose from {', '.join(runs.VARIANTS)}")
    bands = {"strong": settings.match_strong, "review": settings.match_review}
    cache = EmbeddingCache(settings.data_dir / "eval" / "embeddings.sqlite")
    result = runs.identify(folder or settings.faces_dir / "lfw", cache, sizes, nonmate_share, chosen, bands, settings.match_top_k, seed, case_jitters)
    report.print_identify(result)
    report.save(result, out or settings.data_dir / "eval" / "identify.json")


@eval_group.command("references")
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path), help="Labelled folder (default: HOMEWARD_FACES_DIR/lfw).")
@click.option("--counts", default="1,2,3", show_default=True, help="Photos per case to compare.")
@click.option("--seed", default=7, show_default=True)
def eval_references_command(folder: Path | None, counts: str, seed: int) -> None:
    """The same sightings against cases with 1, 2, 3 reference photos."""
    from evaluation import report, runs  # noqa: PLC0415
    from evaluation.embed import EmbeddingCache  # noqa: PLC0415

    settings = _settings()
    bands = {"strong": settings.match_strong, "review": settings.match_review}
    cache = EmbeddingCache(settings.data_dir / "eval" / "embeddings.sqlite")
    result = runs.references(folder or settings.faces_dir / "lfw", cache, [int(c) for c in counts.split(",")], 0.1, bands, settings.match_top_k, seed)
    report.print_references(result)
    report.save(result, settings.data_dir / "eval" / "references.json")


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _check_writable(directory: Path) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=directory):
        pass
    return str(directory)


def _check_models() -> str:
    import numpy as np  # noqa: PLC0415

    from core.faces import model as face_model  # noqa: PLC0415

    started = time.perf_counter()
    face_model.load()
    face_model.detect(np.zeros((100, 100, 3), np.uint8), 0)
    return f"dlib HOG detector and ResNet encoder ready in {time.perf_counter() - started:.1f} s"


def _check_servers(settings: Settings) -> str:
    with backing_services(settings) as urls:
        connections = connect(urls.mongodb_uri, settings.mongodb_database, urls.redis_url)
        try:
            version = connections.mongo.server_info().get("version", "?")
            connections.redis.ping()
        finally:
            connections.close()
    where = "configured" if settings.mongodb_uri and settings.redis_url else "embedded"
    return f"{where}; MongoDB protocol {version}, Redis answers PING"


if __name__ == "__main__":
    sys.exit(group())
