"""Per-contact locks that live exactly as long as the job holding them.

A lock has a short lifetime (LOCK_TTL_S) and a heartbeat thread renews it
while the job runs, so a long job keeps it and a killed worker's lock frees
itself within seconds. A job that cannot get the lock in time raises
LockBusy: RQ retries it, and the messages it was woken for stay pending for
that retry (or the reconciler) to handle; they are never silently left.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import redis
from redis.exceptions import LockError

LOCK_TTL_S = 30.0
# Longer than LOCK_TTL_S, so a lock left by a dead worker is always outwaited.
LOCK_WAIT_S = 45.0
log = logging.getLogger(__name__)


class LockBusy(RuntimeError):
    """Another job holds the lock; this job should be retried later."""


class LockLost(RuntimeError):
    """The lock expired under a running job (its heartbeat could not reach Redis); stop and let RQ retry."""


@dataclass
class Held:
    """A lock being held; `check()` between units of work stops a job whose lock was lost."""

    what: str
    lost: threading.Event = field(default_factory=threading.Event)

    def check(self) -> None:
        if self.lost.is_set():
            raise LockLost(f"the {self.what} lock expired while the job ran; it will be retried")


@contextmanager
def contact_lock(
    connection: redis.Redis, key: str, what: str, ttl: float = LOCK_TTL_S, wait: float = LOCK_WAIT_S
) -> Iterator[Held]:
    """Hold `key` for the duration of the block, renewed every ttl/3 seconds; LockBusy after `wait` seconds.

    `what` names the lock in errors and logs ("conversation"); the key may name a contact, so it is never logged.
    """
    lock = connection.lock(key, timeout=ttl, blocking_timeout=wait, thread_local=False)
    if not lock.acquire():
        raise LockBusy(f"another job has held this contact's {what} lock for over {wait:.0f} s; retry later")
    held, stop = Held(what), threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(lock, held, stop, ttl / 3), name=f"{what}-lock", daemon=True)
    beat.start()
    try:
        yield held
    finally:
        stop.set()
        beat.join()
        try:
            lock.release()
        except LockError:
            log.warning("the %s lock had expired before its job ended", what)


def _heartbeat(lock: redis.lock.Lock, held: Held, stop: threading.Event, every: float) -> None:
    renewed = time.monotonic()
    while not stop.wait(every):
        try:
            lock.reacquire()
            renewed = time.monotonic()
        except LockError:  # expired and perhaps taken by another job
            held.lost.set()
        except redis.RedisError:  # Redis unreachable for a moment: the lock lasts until its ttl
            if time.monotonic() - renewed >= every * 3:
                held.lost.set()
        if held.lost.is_set():
            log.warning("could not renew the %s lock; the job will stop and be retried", held.what)
            return
