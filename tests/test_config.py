"""Settings come from the environment only, and a bad one is named at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, load_settings
from config.declared import SETTINGS, settings_table


def test_defaults_start_embedded_servers(tmp_path: Path) -> None:
    settings = load_settings({"HOMEWARD_DATA_DIR": str(tmp_path)})
    assert settings.mongodb_uri is None and settings.redis_url is None
    assert settings.port == 8000 and settings.data_dir == tmp_path
    assert settings.session_max_hours == 12


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("MONGODB_URI", "localhost:27017"),
        ("REDIS_URL", "http://x"),
        ("HOMEWARD_LOG_LEVEL", "LOUD"),
        ("HOMEWARD_ADMIN_PASSWORD", "short"),
        ("HOMEWARD_SESSION_MAX_HOURS", "0"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({"HOMEWARD_DATA_DIR": str(tmp_path), name: value})


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = load_settings({"HOMEWARD_DATA_DIR": str(tmp_path)}).secret_key
    second = load_settings({"HOMEWARD_DATA_DIR": str(tmp_path)}).secret_key
    assert first == second and len(first) >= 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0  # readable by its owner only


def test_secrets_can_come_from_files(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("from-a-mounted-secret\n")
    settings = load_settings({"HOMEWARD_DATA_DIR": str(tmp_path), "HOMEWARD_ADMIN_PASSWORD_FILE": str(secret)})
    assert settings.admin_password == "from-a-mounted-secret"


SECRETS = {
    "TELEGRAM_BOT_TOKEN": "123456:telegram-bot-token-secret",
    "TELEGRAM_WEBHOOK_SECRET": "webhook-secret-0123456789",
    "TWILIO_AUTH_TOKEN": "twilio-auth-token-secret",
    "HOMEWARD_SECRET_KEY": "flask-secret-key-secret",
    "HOMEWARD_ADMIN_PASSWORD": "admin-password-secret",
    "HOMEWARD_METRICS_TOKEN": "metrics-token-secret-0123",
    "HOMEWARD_DATA_KEY": "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=",
}


def test_no_secret_shows_in_the_settings_repr_as_a_traceback_would_print_it(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "HOMEWARD_DATA_DIR": str(tmp_path),
            "TWILIO_ACCOUNT_SID": "AC-account",
            "TWILIO_WHATSAPP_FROM": "+15550001111",
            "PUBLIC_BASE_URL": "https://homeward.example",
            "MONGODB_URI": "mongodb://homeward:mongo-password-secret@db.example:27017/?authSource=admin",
            "REDIS_URL": "redis://:redis-password-secret@cache.example:6379/0",
            **SECRETS,
        }
    )
    shown = repr(settings)
    assert settings.telegram and settings.twilio and settings.twilio.auth_token == SECRETS["TWILIO_AUTH_TOKEN"]
    for secret in (*SECRETS.values(), "mongo-password-secret", "redis-password-secret", repr(settings.data_key)):
        assert secret not in shown, secret
    assert "db.example:27017" in shown and "cache.example:6379" in shown and "AC-account" in shown
    unix = load_settings({"HOMEWARD_DATA_DIR": str(tmp_path), "REDIS_URL": "unix:///run/r.sock?password=unix-secret"})
    assert "unix-secret" not in repr(unix) and "/run/r.sock" in repr(unix)


def test_configuration_page_table_lists_every_setting() -> None:
    page = Path(__file__).parent.parent / "docs" / "operators" / "configuration.md"
    text = page.read_text(encoding="utf-8")
    assert settings_table() in text, (
        f"the settings table in {page.name} differs from config/declared.py: regenerate it with"
        " python -c 'from config.declared import settings_table; print(settings_table())'"
        f" and paste it over the table in docs/operators/{page.name}"
    )
    assert all(f"`{s.name}`" in text for s in SETTINGS)
