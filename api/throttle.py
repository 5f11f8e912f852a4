"""Calls per API key per minute, counted in Redis and shared by every web process (as admin/throttle.py counts logins).

A fixed window a minute long: past the limit a call waits for the next minute, and the answer says how long
(Retry-After). If Redis is unreachable the API is not throttled (and says so in the log) rather than refused.
"""

from __future__ import annotations

import hashlib
import logging
import time

import redis

WINDOW_S = 60
log = logging.getLogger(__name__)


def retry_after(connection: redis.Redis, who: str, per_minute: int) -> int:
    """Count one call of `who` (a key id, or an address for calls without a valid key); seconds to wait, or 0."""
    now = time.time()
    window = int(now // WINDOW_S)
    key = f"api-rate:{hashlib.sha256(who.encode()).hexdigest()[:32]}:{window}"
    try:
        pipe = connection.pipeline()
        pipe.incr(key)
        pipe.expire(key, 2 * WINDOW_S)
        count = int(pipe.execute()[0])
    except redis.RedisError as exc:
        log.warning("API throttling is off while Redis is unreachable (%s)", type(exc).__name__)
        return 0
    if count <= per_minute:
        return 0
    return max(1, int((window + 1) * WINDOW_S - now + 0.999))
