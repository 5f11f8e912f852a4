"""A job whose failure the test controls: it fails until its Redis flag is set, like a job waiting on a fix."""

from __future__ import annotations

from rq import get_current_job


class NotYet(RuntimeError):
    pass


def run_when_allowed(flag: str) -> str:
    """Fail (naming nothing but the flag's key) until `flag` is set in Redis; then succeed."""
    job = get_current_job()
    assert job is not None
    if not job.connection.get(flag):
        raise NotYet(f"flag {flag} is not set")
    return "ran"


def fails_quoting_its_sender(inbound_id: str) -> None:
    """Fail as a driver error can, its message quoting a stored value: here the sender of the message."""
    from storage.inbound import sender_of  # noqa: PLC0415 - a job module: imported by the worker
    from workers.context import current  # noqa: PLC0415 - likewise: only the worker running the job needs it

    sender = sender_of(current().connections.db, inbound_id)
    raise RuntimeError(f"E11000 duplicate key error, dup key: {{ contact: {sender!r} }}")
