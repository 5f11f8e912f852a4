"""The chat simulator's channel: pretend people chatting from a web page, same path as real ones.

Uploads wait in Redis (an hour at most) until the dialog decides to keep
them, so nothing is stored before consent; replies are simply marked sent
and the page reads them from the outbox. All uploads waiting together stay
under a budget (HOMEWARD_SIMULATOR_UPLOAD_MB): past it the page is asked to
wait, so a visitor cannot fill Redis's memory.
"""

from __future__ import annotations

import secrets

import redis

from bot.channels import MediaTooLarge, Outgoing, Sent
from core.conversation.messages import Attachment
from core.sms import messages, segments

UPLOAD_TTL_S = 3600
UPLOADS_KEY = "sim-uploads"  # sorted set: "<key> <bytes>" scored by when the upload expires

# Atomic across web processes: forget expired uploads, add up the rest, keep this one only if it fits.
_KEEP_WITHIN_BUDGET = """
local now = tonumber(redis.call('TIME')[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local total = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  total = total + tonumber(string.match(member, ' (%d+)$'))
end
local size = string.len(ARGV[1])
if total + size > tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[3])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), KEYS[2] .. ' ' .. size)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


class UploadsFull(Exception):
    """The simulator's uploads fill their budget in Redis; older ones expire within the hour."""


def keep_upload(connection: redis.Redis, data: bytes, budget_bytes: int) -> str:
    """Park an upload in Redis for the dialog; UploadsFull when the waiting uploads would pass the budget."""
    key = f"sim-upload-{secrets.token_urlsafe(12)}"
    if not connection.eval(_KEEP_WITHIN_BUDGET, 2, UPLOADS_KEY, key, data, budget_bytes, UPLOAD_TTL_S):
        raise UploadsFull(f"simulator uploads are over their {budget_bytes // (1024 * 1024)} MB budget")
    return key


class SimulatorChannel:
    name = "simulator"
    reply_window = None
    fetches_media_by_url = False

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
        kind = "document" if message.document else "photo" if message.photo else "text"
        return Sent(f"sim-{secrets.token_hex(6)}", kind)


class SmsSimulatorChannel(SimulatorChannel):
    """A pretend phone without apps: text only, its replies counted in SMS segments (never billed)."""

    name = "simulator-sms"

    def send(self, message: Outgoing) -> Sent:
        return Sent(f"sim-{secrets.token_hex(6)}", "text", sum(segments(part) for part in messages(message.text)), 0.0)
