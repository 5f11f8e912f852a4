"""`homeward eval …`: the matcher measured as the literature does (a benchmark: figures, not pass/fail).

The evaluation modules (with sqlite3 and multiprocessing) are imported inside
each command: only `homeward eval` loads them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli import settings as cli_settings
from cli.engine import chosen_engine, engine_option
from config import Settings
from config.settings import engine_bands
from core.faces.arcface import ModelMissing
from core.faces.calibration import DENSITY, TEMPLATE_REVIEW

if TYPE_CHECKING:
    from evaluation.embed import EmbeddingCache

FOLDER_HELP = "Labelled folder (default: HOMEWARD_FACES_DIR/lfw)."
processes_option = click.option(
    "--processes", type=int, help="Processes embedding photos not yet cached (default: one per core)."
)
lfw_names_option = click.option(
    "--lfw-names",
    is_flag=True,
    help="Keep LFW's raw labels: no merging of its known second names and mislabelled photos (evaluation/aliases.py).",
)


@click.group("eval")
def eval_group() -> None:
    """Measure the matcher as the literature does (a benchmark: figures, not pass/fail)."""


@eval_group.command("lfw-pairs")
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path), help=FOLDER_HELP)
@click.option(
    "--pairs",
    "pairs_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Pairs file, View 2 or View 1 (default: lfw-protocol/pairs.txt).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON results (default: data dir/eval/lfw-pairs[-ENGINE].json).",
)
@click.option(
    "--jitters",
    default=1,
    show_default=True,
    help="Encodings averaged per face, every photo (dlib: jittered copies; arcface: 2 or more is the face and its"
    " mirror image, the flipped copy).",
)
@processes_option
@engine_option
def eval_pairs_command(
    folder: Path | None,
    pairs_file: Path | None,
    out: Path | None,
    jitters: int,
    processes: int | None,
    engine: str | None,
) -> None:
    """10-fold verification accuracy on LFW pairs, embedded with the service's pipeline."""
    from evaluation import report, runs  # noqa: PLC0415 - only `homeward eval` loads them

    settings = cli_settings.load()
    folder = folder or settings.faces_dir / "lfw"
    pairs_file = pairs_file or settings.faces_dir / "lfw-protocol" / "pairs.txt"
    engine = chosen_engine(settings, engine)
    result = runs.lfw_pairs(folder, pairs_file, _cache(settings, engine, processes), jitters)
    report.print_pairs(result)
    report.save(result, out or _out(settings, "lfw-pairs", engine))


@eval_group.command("identify")
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path), help=FOLDER_HELP)
@click.option(
    "--gallery-sizes",
    default="1000,all",
    show_default=True,
    help="Gallery sizes in identities; 'all' is every identity.",
)
@click.option(
    "--nonmate-share", default=0.1, show_default=True, help="Share of identities whose photos are non-mated searches."
)
@click.option(
    "--variants", default="original,whatsapp,half,rotated", show_default=True, help="Probe degradations to run."
)
@click.option("--seed", default=7, show_default=True)
@click.option(
    "--case-jitters", default=1, show_default=True, help="num_jitters when encoding the cases' photos (the slow path)."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON results (default: data dir/eval/identify[-ENGINE].json).",
)
@click.option(
    "--score",
    type=click.Choice(["distance", "density"]),
    default="distance",
    show_default=True,
    help="What ranks and thresholds a search: the raw distance, or the density score the service's strong band uses"
    " (the distance scaled by how crowded both faces' neighbourhoods are).",
)
@lfw_names_option
@processes_option
@engine_option
def eval_identify_command(
    folder: Path | None,
    gallery_sizes: str,
    nonmate_share: float,
    variants: str,
    seed: int,
    case_jitters: int,
    out: Path | None,
    score: str,
    lfw_names: bool,
    processes: int | None,
    engine: str | None,
) -> None:
    """Open-set identification: rank-1/5, FNIR at fixed FPIR, the configured bands, degraded probes."""
    from evaluation import report, runs  # noqa: PLC0415 - only `homeward eval` loads them

    settings = cli_settings.load()
    sizes = [None if size.strip() == "all" else int(size) for size in gallery_sizes.split(",")]
    chosen = [v.strip() for v in variants.split(",")]
    unknown = set(chosen) - set(runs.VARIANTS)
    if unknown:
        raise click.ClickException(f"unknown variants {sorted(unknown)}; choose from {', '.join(runs.VARIANTS)}")
    engine = chosen_engine(settings, engine)
    result = runs.identify(
        folder or settings.faces_dir / "lfw",
        _cache(settings, engine, processes),
        sizes,
        nonmate_share,
        chosen,
        _bands(settings, engine),
        settings.match_top_k,
        seed,
        case_jitters,
        lfw_names,
        score,
    )
    report.print_identify(result)
    report.save(result, out or _out(settings, "identify", engine))


@eval_group.command("references")
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path), help=FOLDER_HELP)
@click.option("--counts", default="1,2,3", show_default=True, help="Photos per case to compare.")
@click.option("--seed", default=7, show_default=True)
@lfw_names_option
@processes_option
@engine_option
def eval_references_command(
    folder: Path | None, counts: str, seed: int, lfw_names: bool, processes: int | None, engine: str | None
) -> None:
    """The same sightings against cases with 1, 2, 3 reference photos."""
    from evaluation import report, runs  # noqa: PLC0415 - only `homeward eval` loads them

    settings = cli_settings.load()
    counts_list = [int(c) for c in counts.split(",")]
    engine = chosen_engine(settings, engine)
    result = runs.references(
        folder or settings.faces_dir / "lfw",
        _cache(settings, engine, processes),
        counts_list,
        0.1,
        _bands(settings, engine),
        settings.match_top_k,
        seed,
        lfw_names,
    )
    report.print_references(result)
    report.save(result, _out(settings, "references", engine))


def _cache(settings: Settings, engine: str, processes: int | None = None) -> EmbeddingCache:
    from evaluation.embed import EmbeddingCache  # noqa: PLC0415 - only `homeward eval` loads it

    try:
        return EmbeddingCache(
            settings.data_dir / "eval" / "embeddings.sqlite",
            engine,
            settings.arcface_model,
            processes,
            settings.dlib_detector,
        )
    except ModelMissing as exc:
        raise click.ClickException(str(exc)) from None


def _bands(settings: Settings, engine: str) -> dict[str, float]:
    """The configured bands for the configured engine; another engine is measured at its own."""
    strong, review = (
        (settings.match_strong, settings.match_review) if engine == settings.face_engine else engine_bands(engine)
    )
    return {"strong": strong, "review": review}


def _served(engine: str) -> dict[str, float] | None:
    """The service's density thresholds for this engine (strong, review), where its candidates are decided so."""
    density = DENSITY.get(engine)
    return {"strong": density.strong, "review": density.review} if density and density.review else None


def _out(settings: Settings, name: str, engine: str) -> Path:
    """dlib keeps the file names it always had; another engine's results sit beside them."""
    return settings.data_dir / "eval" / (f"{name}.json" if engine == "dlib" else f"{name}-{engine}.json")


@eval_group.command("review-load")
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path), help=FOLDER_HELP)
@click.option(
    "--sizes",
    default="1000,2000,all,20000,50000",
    show_default=True,
    help="Gallery sizes in cases ('all': every LFW identity); past LFW's identities the rest are synthetic strangers.",
)
@click.option("--sightings-per-day", default=1000, show_default=True, help="For the review minutes a day.")
@click.option("--seconds-per-candidate", default=30.0, show_default=True, help="A reviewer's time per candidate.")
@click.option("--seed", default=7, show_default=True)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also draw every engine's saved results as a PNG here (false candidates per probe against gallery size).",
)
@processes_option
@engine_option
def eval_review_load_command(
    folder: Path | None,
    sizes: str,
    sightings_per_day: int,
    seconds_per_candidate: float,
    seed: int,
    plot: Path | None,
    processes: int | None,
    engine: str | None,
) -> None:
    """The review queue as the gallery grows: false candidates per sighting, precision and FNIR, per policy."""
    from evaluation import plot as drawing  # noqa: PLC0415 - only `homeward eval` loads them
    from evaluation import report, review_load  # noqa: PLC0415

    settings = cli_settings.load()
    engine = chosen_engine(settings, engine)
    cache = _cache(settings, engine, processes)
    population = review_load.lfw_population(folder or settings.faces_dir / "lfw", cache, 0.1, seed)
    result = review_load.review_load(
        population,
        [population.real_cases if size.strip() == "all" else int(size) for size in sizes.split(",")],
        _bands(settings, engine),
        cache.engine.metric,
        settings.match_top_k,
        seed,
        _served(engine),
    )
    result |= {"engine": engine, "sightings_per_day": sightings_per_day, "seconds_per_candidate": seconds_per_candidate}
    report.print_review_load(result)
    report.save(result, _out(settings, "review-load", engine))
    if plot:
        saved = sorted((settings.data_dir / "eval").glob("review-load*.json"))
        drawing.review_load_chart(saved, plot)
        click.echo(f"plot: {plot}")


@eval_group.command("case-photos")
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path), help=FOLDER_HELP)
@click.option("--counts", default="1,2,3", show_default=True, help="Photos per case (where the identity has them).")
@click.option("--seed", default=7, show_default=True)
@processes_option
@engine_option
def eval_case_photos_command(
    folder: Path | None, counts: str, seed: int, processes: int | None, engine: str | None
) -> None:
    """Cases of several photos at the LFW gallery: closest photo, template, photos agreeing, at today's FNIR."""
    from evaluation import case_photos, report  # noqa: PLC0415 - only `homeward eval` loads them

    settings = cli_settings.load()
    engine = chosen_engine(settings, engine)
    cache = _cache(settings, engine, processes)
    photos = case_photos.lfw_photos(folder or settings.faces_dir / "lfw", cache, 0.1, seed)
    result = case_photos.case_photos(
        photos,
        [int(k) for k in counts.split(",")],
        _bands(settings, engine),
        cache.engine.metric,
        settings.match_top_k,
        TEMPLATE_REVIEW.get(engine),
    )
    result |= {"engine": engine}
    report.print_case_photos(result)
    report.save(result, _out(settings, "case-photos", engine))


@eval_group.command("face-size")
@click.option("--folder", type=click.Path(file_okay=False, path_type=Path), help=FOLDER_HELP)
@click.option("--seed", default=7, show_default=True)
@processes_option
@engine_option
def eval_face_size_command(folder: Path | None, seed: int, processes: int | None, engine: str | None) -> None:
    """How small a face the engine still matches: probes scaled to 16-64 px faces, with and without the gate."""
    from evaluation import face_size, report  # noqa: PLC0415 - only `homeward eval` loads them

    settings = cli_settings.load()
    engine = chosen_engine(settings, engine)
    result = face_size.face_size(
        folder or settings.faces_dir / "lfw",
        _cache(settings, engine, processes),
        _bands(settings, engine)["review"],
        settings.match_top_k,
        seed,
    )
    report.print_face_size(result)
    report.save(result, _out(settings, "face-size", engine))
