"""The chat simulator's channel: pretend people chatting from a web page, same path as real ones.

Uploads wait in Redis (an hour at most) until the dialog decides to keep
them, so nothing is stored before consent; replies are simply marked sent
and the page reads them from the outbox.
"""

from __future__ import annotations

import secrets

import redis

from bot.channels import MediaTooLarge, Outgoing, Sent
from core.conversation.messages import Attachment

UPLOAD_TTL_S = 3600


def keep_upload(connection: redis.Redis, data: bytes) -> str:
    key = f"sim-upload-{secrets.token_urlsafe(12)}"
    connection.set(key, data, ex=UPLOAD_TTL_S)
    return key


class SimulatorChannel:
    name = "simulator"

    def __init__(self, connection: redis.Redis) -> None:
        self._redis = connection

    def download(self, attachment: Attachment, max_bytes: int) -> bytes:
        data = self._redis.get(attachment.ref)
        if data is None:
            raise FileNotFoundError("the simulator upload expired; send the photo again")
        if len(data) > max_bytes:
            raise MediaTooLarge(f"{len(data)} bytes")
        return bytes(data)

    def send(self, message: Outgoing) -> Sent:
        return Sent(f"sim-{secrets.token_hex(6)}", "photo" if message.photo else "text")
