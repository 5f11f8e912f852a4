"""The front page: what this service is and where its parts are."""
from __future__ import annotations

from flask import Blueprint, render_template

blueprint = Blueprint("home", __name__)


@blueprint.get("/")
def index() -> str:
    return render_template("home.html")
