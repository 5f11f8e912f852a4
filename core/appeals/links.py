"""Where a poster's code and links lead: the bot, opened with the appeal's reference, and the public page."""

from __future__ import annotations


def telegram_link(bot_username: str, reference: str) -> str:
    """Telegram opens the bot and sends `/start AP-…` (start parameters allow A-Z, a-z, 0-9, _ and -)."""
    return f"https://t.me/{bot_username.lstrip('@')}?start={reference}"


def whatsapp_link(number: str, reference: str) -> str:
    """WhatsApp opens a chat with the number, `AP-…` typed in, for the citizen to send."""
    digits = "".join(ch for ch in number if ch.isdigit())
    return f"https://wa.me/{digits}?text={reference}"  # letters, digits and '-': nothing to escape


def bot_links(reference: str, telegram_bot: str, whatsapp_number: str) -> list[str]:
    """Every way to reach the bot about this appeal, Telegram first; none when neither channel is set up."""
    links = [telegram_link(telegram_bot, reference)] if telegram_bot else []
    return links + ([whatsapp_link(whatsapp_number, reference)] if whatsapp_number else [])


def page_link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/a/{token}"
