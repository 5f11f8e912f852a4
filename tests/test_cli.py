"""The command line `homeward`: embed a photo, create a user, check the install, point Telegram here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from cli.main import group
from config import Settings
from standins.telegram_api import TelegramStandIn
from tests.conftest import SECRET, TOKEN

# The console script pyproject.toml declares, installed by `make` next to the venv's python.
HOMEWARD = Path(sys.executable).parent / "homeward"
COMMANDS = (
    "api-key",
    "audit",
    "bench",
    "create-user",
    "doctor",
    "embed",
    "eval",
    "org",
    "hooks",
    "found",
    "reembed",
    "rotate-key",
    "set-telegram-webhook",
    "user",
)


def env_of(settings: Settings) -> dict[str, str]:
    return {
        "HOMEWARD_DATA_DIR": str(settings.data_dir),
        "MONGODB_URI": settings.mongodb_uri or "",
        "MONGODB_DATABASE": settings.mongodb_database,
        "REDIS_URL": settings.redis_url or "",
    }


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    assert HOMEWARD.exists(), f"{HOMEWARD} missing: `make .venv/.installed` installs the project"
    return subprocess.run(args, cwd=cwd, env=os.environ | env, capture_output=True, text=True, timeout=60, check=False)


def listed_commands(help_text: str) -> list[str]:
    section = help_text.split("Commands:", 1)[1]
    return sorted(line.split()[0] for line in section.splitlines() if line.strip())


def test_homeward_lists_every_command_from_any_directory(tmp_path: Path) -> None:
    top = run([str(HOMEWARD), "--help"], cwd=tmp_path)
    assert top.returncode == 0, top.stderr
    assert top.stdout.startswith("Usage: homeward ")
    assert listed_commands(top.stdout) == sorted(COMMANDS)
    evaluation = run([str(HOMEWARD), "eval", "--help"], cwd=tmp_path)
    assert listed_commands(evaluation.stdout) == [
        "case-photos",
        "face-size",
        "identify",
        "lfw-pairs",
        "references",
        "review-load",
    ]


def test_python_m_admin_cli_is_still_the_same_command_line(tmp_path: Path) -> None:
    alias = run([sys.executable, "-m", "admin.cli", "--help"], cwd=tmp_path)
    assert alias.returncode == 0, alias.stderr
    assert listed_commands(alias.stdout) == sorted(COMMANDS)


def test_a_bad_setting_is_named_in_one_line_not_a_traceback(tmp_path: Path) -> None:
    result = run([str(HOMEWARD), "doctor"], cwd=tmp_path, HOMEWARD_DATA_DIR=str(tmp_path), MATCH_TOP_K="many")
    assert result.returncode == 1
    assert result.stderr.strip() == "Error: MATCH_TOP_K must be a whole number from 1 to 50, got 'many'"


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


def test_set_telegram_webhook_points_telegram_at_this_service(settings: Settings, bot_api: TelegramStandIn) -> None:
    env = env_of(settings) | {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_API_BASE_URL": bot_api.url,  # type: ignore[attr-defined]
        "PUBLIC_BASE_URL": "https://homeward.example.org",
    }
    result = CliRunner(env=env).invoke(group, ["set-telegram-webhook"])
    assert result.exit_code == 0, result.output
    assert "https://homeward.example.org/webhooks/telegram" in result.output
    [call] = [sent for sent in bot_api.sent if sent["method"] == "setWebhook"]
    assert call["url"] == "https://homeward.example.org/webhooks/telegram"
    assert call["secret_token"] == SECRET


def test_set_telegram_webhook_says_what_is_missing(settings: Settings) -> None:
    result = CliRunner(env=env_of(settings) | {"TELEGRAM_BOT_TOKEN": ""}).invoke(group, ["set-telegram-webhook"])
    assert result.exit_code != 0
    assert "set TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET and PUBLIC_BASE_URL first" in result.output


def test_org_create_list_update_and_a_registrar_of_it(settings: Settings, db) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner(env=env_of(settings))
    made = runner.invoke(
        group, ["org", "create", "Sunrise Shelter", "--kind", "shelter", "--phone", "+91 11 5550 1234"]
    )
    assert made.exit_code == 0, made.output
    again = runner.invoke(group, ["org", "create", "Sunrise Shelter", "--kind", "ngo"])
    assert again.exit_code != 0 and "already exists" in again.output
    changed = runner.invoke(group, ["org", "update", "Sunrise Shelter", "--hours", "9-17", "--address", "12 Ring Road"])
    assert changed.exit_code == 0, changed.output
    nameless = runner.invoke(group, ["org", "update", "Sunrise Shelter", "--name", " "])
    assert nameless.exit_code != 0 and "--name cannot be empty" in nameless.output
    listed = runner.invoke(group, ["org", "list", "--json"])
    shelter = next(org for org in json.loads(listed.output) if org["name"] == "Sunrise Shelter")
    assert shelter == {
        "name": "Sunrise Shelter",
        "kind": "shelter",
        "address": "12 Ring Road",
        "phone": "+91 11 5550 1234",
        "hours": "9-17",
    }
    table = runner.invoke(group, ["org", "list"]).output.splitlines()
    assert table[0].split() == ["name", "kind", "address", "phone", "hours"]
    assert any(line.startswith("Sunrise Shelter  shelter  12 Ring Road") for line in table)
    no_org = runner.invoke(group, ["user", "create", "sita", "--role", "registrar", "--password", "a-long-password"])
    assert no_org.exit_code != 0 and "add --org NAME" in no_org.output and "homeward org list" in no_org.output
    unknown = runner.invoke(
        group, ["user", "create", "sita", "--role", "registrar", "--org", "Nowhere", "--password", "a-long-password"]
    )
    assert unknown.exit_code != 0 and "no organisation named 'Nowhere'" in unknown.output
    args = [
        "user",
        "create",
        "sita",
        "--role",
        "registrar",
        "--org",
        "Sunrise Shelter",
        "--password",
        "a-long-password",
    ]
    assert runner.invoke(group, args).exit_code == 0
    assert (
        db.users.find_one({"username": "sita"})["organisation"]
        == db.organisations.find_one({"name": "Sunrise Shelter"})["_id"]
    )
    assert "sita\tregistrar\tactive\tSunrise Shelter" in runner.invoke(group, ["user", "list"]).output
    assert {"create organisation", "update organisation", "create user"} <= {e["action"] for e in db.audit.find()}
