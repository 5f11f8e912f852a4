"""Per-contact locks that live exactly as long as the job holding them, and turns taken under them.

A lock has a short lifetime (LOCK_TTL_S) and a heartbeat thread renews it
while the job runs, so a long job keeps it and a killed worker's lock frees
itself within seconds. A job that cannot get the lock in time raises
LockBusy: RQ retries it, and the messages it was woken for stay pending for
that retry (or the reconciler) to handle; they are never silently left.

Several jobs are woken for one contact when messages come in a burst (one
job per message). `take_turns` lets the job already working take the new
messages over, so the others end at once instead of each holding a worker
until the lock is free. Should that job die before it does, the reconciler
queues the messages again once they are GRACE old, and that job waits for
the dead one's lock to expire.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

import redis
from redis.exceptions import LockError

LOCK_TTL_S = 30.0
# Longer than LOCK_TTL_S, so a lock left by a dead worker is always outwaited.
LOCK_WAIT_S = 45.0
# A wake flag outlives any job waiting on it; a flag left by a dead job only costs one more look.
WAKE_KEPT_S = 2 * LOCK_WAIT_S
# A holder that looked for work this recently is alive and looks again before it lets go; longer than one
# message takes to answer, far shorter than the reconciler's grace.
LOOKED_LATELY_MS = 2000
POLL_S = 0.01
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
    wake: Callable[[], object] = lambda: None
    alive: Callable[[], object] = lambda: None

    def check(self) -> None:
        if self.lost.is_set():
            raise LockLost(f"the {self.what} lock expired while the job ran; it will be retried")

    def looking(self) -> None:
        """Call just before each look for work: what was stored before now will be seen, so its waiting jobs end."""
        self.wake()

    def at_work(self) -> None:
        """Call before each further unit of work found by one look: a job woken meanwhile still leaves its work to
        this holder, which checks the wake flag again before it stops (`take_turns`)."""
        self.alive()


def take_turns(
    connection: redis.Redis,
    key: str,
    what: str,
    work: Callable[[Held], int],
    wait_s: float = LOCK_WAIT_S,
    ttl: float = LOCK_TTL_S,
) -> int:
    """Run `work` under the lock `key` until nothing new is left for it; return the sum of what it returned.

    This job's work was stored before it was queued. Its wake flag says so; whichever job holds the lock
    clears the flag just before it looks for work (`Held.looking()`), and checks it again after letting go,
    so a holder that is alive takes this job's work over: this job ends at once if the holder looked lately,
    else it waits until the flag is cleared or the lock is free (LockBusy after LOCK_WAIT_S, as for a lock
    left by a dead worker). `wait_s=0` raises LockBusy at once instead of waiting (a caller with a fallback);
    a short `ttl` frees a dead holder's lock sooner (the lock everyone's messages wait on, workers/intake.py).
    """
    wake, looked = turn_keys(key)
    connection.set(wake, 1, ex=int(WAKE_KEPT_S))
    done, deadline = 0, time.monotonic() + wait_s
    while connection.exists(wake):
        try:
            # The heartbeat marks the holder alive too: a batch that waits seconds on a saturated database must
            # not look dead, or every job woken meanwhile would hold a worker waiting for its lock.
            often = ttl / 3 < LOOKED_LATELY_MS / 1000  # a 30 s lock beats every 10 s: too seldom to tell
            alive = partial(connection.set, looked, 1, px=LOOKED_LATELY_MS)
            with contact_lock(connection, key, what, ttl=ttl, wait=0, beat=alive if often else None) as held:
                held.wake = lambda: _looking(connection.pipeline(), key).execute()
                held.alive = alive
                done += work(held)
        except LockBusy:
            if connection.exists(looked):
                return done  # the holder is at work and looks again before it stops
            if time.monotonic() >= deadline:
                raise LockBusy(f"another job has held this contact's {what} lock for over {wait_s:.0f} s") from None
            time.sleep(POLL_S)
    return done


def turn_keys(key: str) -> tuple[str, str]:
    """A lock's wake flag and its "looked lately" mark (`take_turns`).

    Named by a digest: the key may name a contact, and these outlive the lock (erasure leaves nothing that names one).
    """
    turn = "turns:" + hashlib.sha256(key.encode()).hexdigest()[:24]
    return f"{turn}:wake", f"{turn}:looked"


def _looking(pipeline: redis.client.Pipeline, key: str) -> redis.client.Pipeline:
    """The holder of `key` is about to look for work: clear its wake flag, mark it as having looked lately."""
    wake, looked = turn_keys(key)
    return pipeline.delete(wake).set(looked, 1, px=LOOKED_LATELY_MS)


@dataclass
class HeldMany:
    """Many contacts' locks taken at once by one job (workers/first_contacts.py), each under a token of its own."""

    connection: redis.Redis
    tokens: dict[str, str]
    since: float = field(default_factory=time.monotonic)

    def fresh(self) -> bool:
        """Whether the locks are surely still this job's: no heartbeat renews them, so a job past half their life
        leaves what is left to the one-contact jobs, which take turns as usual."""
        return time.monotonic() - self.since < LOCK_TTL_S / 2

    def looking(self) -> None:
        """`Held.looking` for every lock held: jobs woken for these contacts leave their work to this job."""
        pipeline = self.connection.pipeline(transaction=False)
        for key in self.tokens:
            _looking(pipeline, key)
        pipeline.execute()

    def release(self) -> list[str]:
        """Let go of every lock; the keys whose wake flag was set meanwhile (a job left its work to this one)."""
        pipeline = self.connection.pipeline(transaction=False)
        for key, token in self.tokens.items():
            pipeline.eval(_RELEASE, 1, key, token)
        for key in self.tokens:
            pipeline.exists(turn_keys(key)[0])
        answers = pipeline.execute(raise_on_error=False)[len(self.tokens) :]
        return [key for key, woken in zip(self.tokens, answers, strict=True) if woken is True or woken == 1]


# Delete the lock only if it is still this holder's (redis-py's Lock releases the same way).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def hold_many(connection: redis.Redis, keys: list[str]) -> HeldMany:
    """Take each lock that is free now, in one round trip, for LOCK_TTL_S; the ones taken (a busy one is skipped).

    The same locks as `contact_lock` (a key and a token, set if absent), so one-contact jobs wait for these.
    """
    tokens = {key: uuid.uuid4().hex for key in keys}
    pipeline = connection.pipeline(transaction=False)
    for key, token in tokens.items():
        pipeline.set(key, token, nx=True, px=int(LOCK_TTL_S * 1000))
    taken = pipeline.execute()
    return HeldMany(connection, {key: token for (key, token), ok in zip(tokens.items(), taken, strict=True) if ok})


@contextmanager
def contact_lock(
    connection: redis.Redis,
    key: str,
    what: str,
    ttl: float = LOCK_TTL_S,
    wait: float = LOCK_WAIT_S,
    beat: Callable[[], object] | None = None,
) -> Iterator[Held]:
    """Hold `key` for the duration of the block, renewed every ttl/3 seconds (then `beat` is called too);
    LockBusy after `wait` seconds.

    `what` names the lock in errors and logs ("conversation"); the key may name a contact, so it is never logged.
    """
    lock = connection.lock(key, timeout=ttl, blocking_timeout=wait, thread_local=False)
    if not lock.acquire(blocking=wait > 0):
        raise LockBusy(f"another job has held this contact's {what} lock for over {wait:.0f} s; retry later")
    held, stop = Held(what), threading.Event()
    heart = threading.Thread(
        target=_heartbeat, args=(lock, held, stop, ttl / 3, beat), name=f"{what}-lock", daemon=True
    )
    heart.start()
    try:
        yield held
    finally:
        stop.set()
        heart.join()
        try:
            lock.release()
        except LockError:
            log.warning("the %s lock had expired before its job ended", what)


def _heartbeat(
    lock: redis.lock.Lock, held: Held, stop: threading.Event, every: float, beat: Callable[[], object] | None
) -> None:
    renewed = time.monotonic()
    while not stop.wait(every):
        try:
            lock.reacquire()
            renewed = time.monotonic()
            if beat is not None:
                beat()
        except LockError:  # expired and perhaps taken by another job
            held.lost.set()
        except redis.RedisError:  # Redis unreachable for a moment: the lock lasts until its ttl
            if time.monotonic() - renewed >= every * 3:
                held.lost.set()
        if held.lost.is_set():
            log.warning("could not renew the %s lock; the job will stop and be retried", held.what)
            return
