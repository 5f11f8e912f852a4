"""Login throttling: failed logins counted per address and per username in Redis, shared by every web process.

Each count lives in a fixed window (the key expires WINDOW_S after the first
failure). Past a limit, logins from that address or for that username are
refused without checking the password until the window ends; a successful
login clears its username's count. If Redis is unreachable the panel stays
usable (reviewers must still be able to see an outage) and says so in the log.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging

import redis

WINDOW_S = 15 * 60
PER_USER = 5  # a person mistyping does not get near this; a guesser gets five tries per quarter hour
PER_ADDRESS = 20  # several reviewers behind one office address, each mistyping a few times
log = logging.getLogger(__name__)


def wait_seconds(connection: redis.Redis, address: str, username: str) -> int:
    """How long this address or username must wait before trying again; 0 when it may try now."""
    keys = (_address_key(address), _user_key(username))
    try:
        counts = connection.mget(keys)
        over = [
            key for key, count, limit in zip(keys, counts, (PER_ADDRESS, PER_USER), strict=True) if _n(count) >= limit
        ]
        return max((max(int(connection.ttl(key)), 1) for key in over), default=0)
    except redis.RedisError as exc:
        log.warning("login throttling is off while Redis is unreachable (%s)", type(exc).__name__)
        return 0


def count_failure(connection: redis.Redis, address: str, username: str) -> None:
    """One more failed login for this address and this username."""
    try:
        pipe = connection.pipeline()
        for key in (_address_key(address), _user_key(username)):
            pipe.incr(key)
            pipe.expire(key, WINDOW_S, nx=True)
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("could not count a failed login: Redis is unreachable (%s)", type(exc).__name__)


def clear_user(connection: redis.Redis, username: str) -> None:
    """The right password was given: that username's failures are forgiven (the address's are not)."""
    with contextlib.suppress(redis.RedisError):  # already warned about by the calls before it
        connection.delete(_user_key(username))


def _address_key(address: str) -> str:
    return f"login-failures:address:{address}"


def _user_key(username: str) -> str:
    # Hashed: a key name is no place for whatever someone typed into the username field.
    return "login-failures:user:" + hashlib.sha256(username.lower().encode()).hexdigest()[:32]


def _n(count: bytes | str | None) -> int:
    return int(count or 0)
