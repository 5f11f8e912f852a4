"""`homeward bench …`: the benchmarks, each a command that prints figures (also `make bench*`, `make chaos`).

Each subcommand runs `python -m benchmarks.<module>` in this process and passes
its arguments on unchanged, so `homeward bench chaos --help` shows the
benchmark's own options.
"""

from __future__ import annotations

import importlib
import sys

import click

# command name -> (module in benchmarks/, what it measures)
BENCHMARKS = {
    "chaos": ("chaos", "Conversations over real webhooks while the worker, Redis and MongoDB are killed."),
    "pipeline": ("pipeline", "Per-photo timings of the face pipeline."),
    "chat": ("chat_load", "A viral appeal: first messages at a steady rate, time to each answer, drain (--sweep)."),
    "webhooks": ("webhook_latency", "Webhook acknowledgement latency (p50/p90/p99)."),
    "hooks": ("partner_hooks", "Partner webhook deliveries to a receiver failing one in five (--deliveries N)."),
    "matching": ("match_latency", "Time from a sighting photo to its candidate in the review queue."),
    "heal": ("heal", "Seconds from killing a child of `make run` to /healthz 200 again."),
    "sealing": (
        "sealing",
        "What encryption at rest costs: a gallery load of sealed encodings, a photo cleaned and sealed.",
    ),
    "login": ("login_timing", "Failed-login timing: known vs unknown usernames (p50/p90)."),
    "audit": ("audit_chain", "Cost of the audit hash chain: append latency (1 and 4 writers), verify speed."),
    "engines": ("engines", "Face engines side by side: small faces, bad photos, speed."),
    "import": ("found_import", "Bulk import of found persons: CSV + ZIP of N (--found N), photos/s, a second run."),
    "api": ("api", "The partner API: reads p50/p99 at a steady rate, creates with one photo p50/p95."),
    "appeal": ("appeal_volunteers", "An approved appeal to N synthetic volunteers (--volunteers N): chosen, queued."),
    "poster": ("appeal_poster", "An appeal's poster (A4 PNG, PDF, phone PNG) per language on one core (--runs N)."),
    "search": ("search", "Face index at 100 000 and 1 000 000 faces: build, load, memory, p50/p99, recall, removal."),
}
PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


@click.group("bench")
def bench_group() -> None:
    """Run a benchmark and print its figures."""


def _command(name: str, module: str, summary: str) -> click.Command:
    @click.command(name, help=f"{summary} Options: `homeward bench {name} --help`.", context_settings=PASS_THROUGH)
    @click.argument("arguments", nargs=-1, type=click.UNPROCESSED)
    def run(arguments: tuple[str, ...]) -> None:
        benchmark = importlib.import_module(f"benchmarks.{module}")  # only the one asked for: some load face models
        sys.argv = [f"homeward bench {name}", *arguments]  # the older benchmarks read their options from sys.argv
        code = benchmark.main(list(arguments)) if name == "chaos" else benchmark.main()
        sys.exit(code)

    return run


for _name, (_module, _summary) in BENCHMARKS.items():
    bench_group.add_command(_command(_name, _module, _summary))
