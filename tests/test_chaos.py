"""Nothing lost, nothing stuck: the chaos benchmark, small (`make chaos` is the full one).

Twelve people talk to `make run` over the real webhooks (half Telegram, half
WhatsApp; reports and sightings) while the worker, the Redis server and the
MongoDB server are each killed with SIGKILL and restarted by the supervisor.
Every message must get its answer and every reference shown to a family must
be in MongoDB with its photo. One hostile contact sends three long clips
beside them: only one worker ever analyses clips, the other keeps answering.
The viral-appeal and the bulk-import benchmarks (`homeward bench chat`, `bench import`) run here small too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import chaos, chat_load, found_import

pytestmark = pytest.mark.slow


def test_killing_the_worker_redis_and_mongodb_loses_no_message_and_no_report(
    tmp_path: Path, faces_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--contacts", "12", "--hostile", "1", "--reply-timeout", "90", "--grace", "30"]
    argv += ["--faces-dir", str(faces_dir)]
    code = chaos.main(argv + ["--data-dir", str(tmp_path / "data")])
    output = capsys.readouterr().out
    figures = json.loads(output.strip().splitlines()[-1])
    assert len(figures["faults"]) == 3, output  # each fault happened while people were talking
    assert figures["messages_sent"] >= 12 * 6 + 14, output
    assert (figures["unanswered"], figures["off_script"], figures["lost_reports"]) == (0, 0, 0), output
    assert figures["reports_confirmed"] + figures["sightings_confirmed"] == 12 + 1, output  # a contact's last reference
    assert figures["hostile_clips"] == {"analysed": 3}, output
    assert figures["most_workers_on_clips_at_once"] == 1, output  # the chat-only worker never took one
    assert code == 0, output


def test_the_viral_appeal_benchmark_answers_every_new_person_and_says_how_fast(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`homeward bench chat`, tiny: every first message sent through the real webhook is answered and timed."""
    assert chat_load.main(["--rate", "5", "--seconds", "2", "--drain-timeout", "60"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["sent"] == figures["acknowledged"] == figures["answered"] == 10
    assert 0 < figures["answer_p50_s"] <= figures["answer_p95_s"] <= figures["answer_max_s"]
    assert figures["drain_s"] is not None and figures["throughput_per_s"] > 0


def test_the_import_benchmark_imports_while_chats_are_answered_and_a_second_run_changes_nothing(
    faces_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`homeward bench import`, tiny: the import against `make run` ends matchable, every `hi` meanwhile answered."""
    assert found_import.main(["--found", "12"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures["imported"] + figures["rejected"] == 12 and figures["imported"] >= 9
    assert figures["hi_sent"] >= 1 and figures["hi_answered"] == figures["hi_sent"]
    assert figures["second_run_changes"] == 0 and figures["photos_per_s"] > 0
    assert figures["processes"] >= 5 and figures["peak_all_mb"] > figures["peak_process_mb"] > 0
