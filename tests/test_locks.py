"""A contact's work is taken in turns (workers/locks.py): a job woken while another works leaves its work to it at
once, a lock outlives its ttl while its job runs, and a job that cannot get it raises for a retry."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis as redis_lib

from workers import locks
from workers.locks import Held, LockBusy, contact_lock, take_turns


def test_a_job_woken_while_another_works_leaves_its_work_to_it_at_once(redis: redis_lib.Redis) -> None:
    # A burst of messages wakes one job each: the first answers them all, the others must not hold a worker.
    looked, go_on = threading.Event(), threading.Event()

    def first_job(held: Held) -> int:
        held.looking()
        looked.set()
        go_on.wait(5)
        held.looking()  # it looks again before its next message: the second job's message is its now
        return 2

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(take_turns, redis, "lock:test:turns", "test", first_job)
        assert looked.wait(5)
        second = pool.submit(take_turns, redis, "lock:test:turns", "test", lambda held: 100)
        assert second.result(timeout=1) == 0  # ends at once, not when the first lets go: it never did the work
        go_on.set()
        assert first.result(timeout=2) == 2


def test_a_job_woken_while_the_holder_works_through_one_look_s_batch_leaves_its_work_to_it(
    redis: redis_lib.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One look found several messages; the holder is long at them (past the "looked lately" time), so each one
    # after the first says it is still at work, and it checks the wake flag again before it lets go.
    monkeypatch.setattr(locks, "LOOKED_LATELY_MS", 200)
    second_message, go_on, runs = threading.Event(), threading.Event(), []

    def job(held: Held) -> int:
        held.looking()
        runs.append(1)
        if len(runs) == 1:
            time.sleep(0.4)  # the first message of the batch outlasts the "looked lately" mark
            held.at_work()  # the batch's second message
            second_message.set()
            go_on.wait(5)
        return 1

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(take_turns, redis, "lock:test:batch", "test", job)
        assert second_message.wait(5)
        second = pool.submit(take_turns, redis, "lock:test:batch", "test", job)
        assert second.result(timeout=1) == 0  # ends at once instead of waiting for the lock
        go_on.set()
        assert first.result(timeout=2) == 2 and len(runs) == 2  # and its work was looked for once more


def test_work_woken_after_the_last_look_is_done_after_the_lock_is_released(redis: redis_lib.Redis) -> None:
    looked, go_on, runs = threading.Event(), threading.Event(), []

    def job(held: Held) -> int:
        held.looking()
        runs.append(1)
        looked.set()
        go_on.wait(5)
        return 1  # no second look: a message stored meanwhile is not seen by this pass

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(take_turns, redis, "lock:test:turns", "test", job)
        assert looked.wait(5)
        second = pool.submit(take_turns, redis, "lock:test:turns", "test", job)
        time.sleep(0.1)
        go_on.set()
        assert first.result(timeout=2) + second.result(timeout=2) == 2 and len(runs) == 2  # looked at once more


def test_a_lock_outlives_its_ttl_while_its_job_runs(redis: redis_lib.Redis) -> None:
    with contact_lock(redis, "lock:test:long-job", "test", ttl=1, wait=0.2):
        time.sleep(2.5)  # well past the ttl: the heartbeat keeps renewing it
        with pytest.raises(LockBusy), contact_lock(redis, "lock:test:long-job", "test", ttl=1, wait=0.2):
            pass
    assert redis.get("lock:test:long-job") is None


def test_a_job_that_cannot_get_the_lock_raises_for_a_retry(redis: redis_lib.Redis) -> None:
    got_it, done = threading.Event(), threading.Event()

    def holder() -> None:
        with contact_lock(redis, "lock:test:busy", "test", ttl=1):
            got_it.set()
            done.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert got_it.wait(5)
        with pytest.raises(LockBusy, match="retry later"), contact_lock(redis, "lock:test:busy", "test", wait=1.5):
            pass
    finally:
        done.set()
        thread.join()
