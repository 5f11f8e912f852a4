"""`homeward set-telegram-webhook`: point the Telegram bot at this service."""

from __future__ import annotations

import click

from cli import settings as cli_settings


@click.command("set-telegram-webhook")
def set_telegram_webhook_command() -> None:
    """Tell Telegram to post updates to PUBLIC_BASE_URL/webhooks/telegram with the secret."""
    from bot.telegram import TelegramChannel  # noqa: PLC0415 - PTB loads only where Telegram is on

    settings = cli_settings.load()
    if settings.telegram is None or not settings.public_base_url:
        raise click.ClickException("set TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET and PUBLIC_BASE_URL first")
    url = f"{settings.public_base_url}/webhooks/telegram"
    TelegramChannel(settings.telegram).set_webhook(url, settings.telegram.webhook_secret)
    click.echo(f"Telegram will post updates to {url}")
