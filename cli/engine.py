"""The `--engine` option of the face commands, and the licence check every use of the arcface engine passes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from config import Settings
from config.settings import LICENCE_REFUSAL
from core.faces import engines
from core.faces.arcface import ModelMissing
from core.faces.engines import ENGINES


def engine_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--engine",
        type=click.Choice(sorted(ENGINES)),
        default=None,
        help="Face engine (default: HOMEWARD_FACE_ENGINE). arcface needs HOMEWARD_ACCEPT_MODEL_LICENCE=yes.",
    )(command)


def chosen_engine(settings: Settings, name: str | None) -> str:
    """The engine asked for, else the configured one; arcface only with its model's licence acknowledged."""
    engine = name or settings.face_engine
    if engine == "arcface" and not settings.model_licence_accepted:
        raise click.ClickException(LICENCE_REFUSAL)
    return engine


def load_engine(settings: Settings, name: str | None) -> Any:
    """The chosen engine with its models loaded, or a click error saying what is missing."""
    try:
        engine = engines.get(chosen_engine(settings, name), settings.arcface_model, settings.dlib_detector)
        engine.load()
    except ModelMissing as exc:
        raise click.ClickException(str(exc)) from None
    return engine
