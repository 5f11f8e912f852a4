"""The command line: embed a photo, create a user, check the install."""
from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from admin.cli import group
from config import Settings


def env_of(settings: Settings) -> dict[str, str]:
    return {
        "HOMEWARD_DATA_DIR": str(settings.data_dir),
        "MONGODB_URI": settings.mongodb_uri or "",
        "MONGODB_DATABASE": settings.mongodb_database,
        "REDIS_URL": settings.redis_url or "",
    }


def test_embed_prints_each_face_with_its_quality(faces_dir: Path, tmp_path: Path) -> None:
    text = tmp_path / "note.txt"
    text.write_text("not a photo")
    result = CliRunner().invoke(group, ["embed", str(faces_dir / "groups/two_people.jpg"), str(text)])
    assert result.exit_code == 0, result.output
    assert "2 face(s)" in result.output
    assert result.output.count("-> ok") == 2
    assert "note.txt: rejected (not_an_image)" in result.output


def test_create_user_then_refuse_the_same_name(settings: Settings, db) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner(env=env_of(settings))
    made = runner.invoke(group, ["create-user", "rosa", "--role", "viewer", "--password", "a-long-password"])
    assert made.exit_code == 0, made.output
    assert db.users.find_one({"username": "rosa"})["role"] == "viewer"
    again = runner.invoke(group, ["create-user", "rosa", "--password", "a-long-password"])
    assert again.exit_code != 0 and "already exists" in again.output


def test_doctor_passes_on_a_working_install(settings: Settings) -> None:
    result = CliRunner(env=env_of(settings)).invoke(group, ["doctor"])
    assert result.exit_code == 0, result.output
    assert result.output.count("ok    ") == 3


def test_doctor_names_what_is_broken(settings: Settings) -> None:
    env = env_of(settings) | {"MONGODB_URI": "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=300"}
    result = CliRunner(env=env).invoke(group, ["doctor"])
    assert result.exit_code != 0
    assert "FAIL  MongoDB and Redis reachable" in result.output
