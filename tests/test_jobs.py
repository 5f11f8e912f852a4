"""Every job is named once, in services/queue.py's `Job`, and marked on the function that runs it."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from services.queue import Job, runs


@pytest.mark.parametrize("job", list(Job), ids=lambda job: job.name)
def test_every_job_names_a_function_marked_as_running_it(job: Job) -> None:
    """RQ imports the job by this path: a rename that forgets the `Job` member would fail every such job."""
    module, name = job.value.rsplit(".", 1)
    function = getattr(importlib.import_module(module), name, None)
    assert callable(function), f"{job.value} is not a function: update Job.{job.name} in services/queue.py"
    source = importlib.import_module(module).__file__
    assert source is not None and f"@runs(Job.{job.name})" in Path(source).read_text(encoding="utf-8"), (
        f"mark {job.value} with @runs(Job.{job.name}) so a reader finds it from every enqueue"
    )


def test_a_function_marked_with_another_jobs_name_is_refused_at_import() -> None:
    def analyse_photo(photo_id: str) -> str:
        return photo_id

    with pytest.raises(RuntimeError, match=r"marked as running ANALYSE_PHOTO, which names workers\.jobs\.analyse"):
        runs(Job.ANALYSE_PHOTO)(analyse_photo)
