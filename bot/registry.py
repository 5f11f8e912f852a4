"""The channels this process can talk through, built once from settings."""

from __future__ import annotations

import redis

from bot.channels import Channel
from bot.simulator import SimulatorChannel, SmsSimulatorChannel
from config import Settings


def build_channels(settings: Settings, connection: redis.Redis) -> dict[str, Channel]:
    channels: dict[str, Channel] = {
        "simulator": SimulatorChannel(connection),
        "simulator-sms": SmsSimulatorChannel(connection),
    }
    if settings.telegram:
        from bot.telegram import TelegramChannel  # noqa: PLC0415 - PTB loads only where Telegram is on

        channels["telegram"] = TelegramChannel(settings.telegram)
    if settings.twilio and settings.twilio.whatsapp_from:
        from bot.twilio import TwilioChannel  # noqa: PLC0415 - the Twilio SDK loads only where WhatsApp is on

        channels["whatsapp"] = TwilioChannel(settings.twilio)
    if settings.twilio and settings.twilio.sms_from:
        from bot.sms import SmsChannel  # noqa: PLC0415 - the Twilio SDK loads only where SMS is on

        channels["sms"] = SmsChannel(settings.twilio)
    return channels
