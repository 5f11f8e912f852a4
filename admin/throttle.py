"""Login throttling: failed password checks counted in Redis, shared by every web process, with growing delays.

Counts are kept per (username, address) and per address. Past FREE_TRIES
failures for a pair (FREE_TRIES_PER_ADDRESS for an address, over every
username), each further failure makes that pair (or address) wait 1 s, 2 s,
4 s ... up to MAX_WAIT_S before its next try, without the password being
checked. No count is kept per username alone: a storm of wrong passwords from
one address cannot stop the account's owner logging in from another. A count
is forgotten FORGET_S after its last failure; a right password clears its
pair. Failures per username since its last login are kept apart, to tell the
owner at their next login (`failures_since_login`). If Redis is unreachable
the panel stays usable (reviewers must still be able to see an outage) and
says so in the log.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging

import redis

FREE_TRIES = 5  # a person mistyping does not get near this; a guesser then waits longer after each try
FREE_TRIES_PER_ADDRESS = 20  # several reviewers behind one office address, each mistyping a few times
MAX_WAIT_S = 15 * 60
FORGET_S = 60 * 60  # an hour without failures and the count starts again
BURST = FREE_TRIES  # this many failures for a username since its last login are worth telling its owner
KEEP_BURST_S = 30 * 24 * 3600
log = logging.getLogger(__name__)


def wait_seconds(connection: redis.Redis, address: str, username: str) -> int:
    """How long this username from this address must wait before trying again; 0 when it may try now."""
    try:
        waits = [connection.pttl(_wait_key(key)) for key in _count_keys(address, username)]
    except redis.RedisError as exc:
        log.warning("login throttling is off while Redis is unreachable (%s)", type(exc).__name__)
        return 0
    return max((-(-int(ms) // 1000) for ms in waits if int(ms) > 0), default=0)


def count_failure(connection: redis.Redis, address: str, username: str) -> None:
    """One more failed password check: past the free tries, the pair (or the address) waits twice as long."""
    try:
        pipe = connection.pipeline()
        keys = _count_keys(address, username)
        for key in keys:
            pipe.incr(key)
            pipe.expire(key, FORGET_S)
        pipe.incr(_burst_key(username))
        pipe.expire(_burst_key(username), KEEP_BURST_S)
        counts = pipe.execute()[0:4:2]
        for key, count, free in zip(keys, counts, (FREE_TRIES, FREE_TRIES_PER_ADDRESS), strict=True):
            if int(count) >= free:
                connection.set(_wait_key(key), 1, ex=min(2 ** (int(count) - free), MAX_WAIT_S))
    except redis.RedisError as exc:
        log.warning("could not count a failed login: Redis is unreachable (%s)", type(exc).__name__)


def clear(connection: redis.Redis, address: str, username: str) -> None:
    """The right password was given: this pair's failures are forgiven (the address's, over every name, are not)."""
    pair = _pair_key(address, username)
    with contextlib.suppress(redis.RedisError):  # already warned about by the calls before it
        connection.delete(pair, _wait_key(pair))


def failures_since_login(connection: redis.Redis, username: str) -> int:
    """How many failed logins this username had since its last login, from anywhere; the count starts again."""
    try:
        return int(connection.getdel(_burst_key(username)) or 0)
    except redis.RedisError:
        return 0  # already warned about by the calls before it


def wait_text(seconds: int) -> str:
    """A wait as a person reads it: seconds under a minute, else minutes rounded up."""
    return f"{seconds} second(s)" if seconds < 60 else f"{-(-seconds // 60)} minute(s)"


def _count_keys(address: str, username: str) -> tuple[str, str]:
    return _pair_key(address, username), f"login-failures:address:{address}"


def _pair_key(address: str, username: str) -> str:
    # Hashed: a key name is no place for whatever someone typed into the username field.
    return "login-failures:pair:" + _digest(f"{username.lower()}\x00{address}")


def _burst_key(username: str) -> str:
    return "login-failures:since-login:" + _digest(username.lower())


def _wait_key(count_key: str) -> str:
    return count_key.replace("login-failures:", "login-wait:", 1)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]
