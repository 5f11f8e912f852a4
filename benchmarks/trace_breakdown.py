"""Where a message's round trips go: `python -m benchmarks.trace_breakdown TRACE [--messages N]`.

Reads a HOMEWARD_TRACE file (services/trace.py) written during `homeward bench chat` and prints, per message
(the web's inbound inserts, unless --messages says otherwise), the MongoDB commands by process, kind and
collection, the Redis round trips by process and phase (inside a job, by job; between jobs: RQ's own loop),
and the jobs with their time. Counts per message do not depend on the machine's load; times do.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

RARE = 0.05  # commands fewer than this a message are summed in one row


def breakdown(lines: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Counts and milliseconds by (process, phase, what); a worker's line belongs to the job running in its pid."""
    running: dict[int, str] = {}
    mongo: Counter[tuple[str, str, str]] = Counter()
    mongo_ms: defaultdict[tuple[str, str, str], float] = defaultdict(float)
    redis: Counter[tuple[str, str]] = Counter()
    redis_commands: Counter[tuple[str, str]] = Counter()
    jobs: Counter[str] = Counter()
    job_ms: defaultdict[str, float] = defaultdict(float)
    inserts = 0
    for line in lines:
        pid, kind = line.get("pid", 0), line.get("kind")
        phase = f"worker:{running.get(pid, 'between jobs')}" if line["process"] == "worker" else "web (webhook)"
        if kind == "job":
            if line["phase"] == "start":
                running[pid] = line["name"]
            else:
                running.pop(pid, None)
                jobs[line["name"]] += 1
                job_ms[line["name"]] += line.get("ms", 0)
        elif kind == "mongo":
            key = (phase, line["command"], line.get("collection") or "-")
            mongo[key] += 1
            mongo_ms[key] += line.get("ms", 0)
            inserts += line["process"] == "web" and line["command"] == "insert" and line.get("collection") == "inbound"
        elif kind == "redis":
            redis[(phase, "+".join(sorted(set(line["commands"]))) if len(line["commands"]) > 1 else "")] += 1
            for command in line["commands"]:
                redis_commands[(phase, command)] += 1
    return {
        "inserts": inserts,
        "mongo": mongo,
        "mongo_ms": mongo_ms,
        "redis": redis,
        "redis_commands": redis_commands,
        "jobs": jobs,
        "job_ms": job_ms,
    }


def report(found: dict[str, Any], messages: int) -> str:
    """Markdown tables, each figure per message."""
    rows = ["| phase | MongoDB command | collection | per message | ms each |", "|---|---|---|---:|---:|"]
    rare = 0
    for (phase, command, collection), count in sorted(found["mongo"].items(), key=lambda item: -item[1]):
        if count / messages < RARE:
            rare += count
            continue
        ms = found["mongo_ms"][(phase, command, collection)] / count
        rows.append(f"| {phase} | {command} | {collection} | {count / messages:.2f} | {ms:.1f} |")
    rows.append(
        f"| (anything rarer than {RARE} a message: start-up, index checks, the reconciler's looks) | | | "
        f"{rare / messages:.2f} | |"
    )
    rows.append(f"| **all** | | | **{sum(found['mongo'].values()) / messages:.2f}** | |")
    rows += ["", "| phase | MongoDB ms per message |", "|---|---:|"]
    spent: defaultdict[str, float] = defaultdict(float)
    for (phase, _, _), ms in found["mongo_ms"].items():
        spent[phase] += ms
    rows += [f"| {phase} | {ms / messages:.1f} |" for phase, ms in sorted(spent.items(), key=lambda item: -item[1])]
    trips: Counter[str] = Counter()
    for (phase, _), count in found["redis"].items():
        trips[phase] += count
    rows += ["", "| phase | Redis round trips per message | commands per message (most) |", "|---|---:|---|"]
    for phase, count in sorted(trips.items(), key=lambda item: -item[1]):
        commands = Counter({c: n for (p, c), n in found["redis_commands"].items() if p == phase})
        top = ", ".join(f"{c} {n / messages:.1f}" for c, n in commands.most_common(6))
        rows.append(f"| {phase} | {count / messages:.2f} | {top} |")
    rows.append(f"| **all** | **{sum(trips.values()) / messages:.2f}** | |")
    rows += ["", "| job | per message | ms each |", "|---|---:|---:|"]
    for name, count in found["jobs"].most_common():
        rows.append(f"| {name} | {count / messages:.2f} | {found['job_ms'][name] / count:.1f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("trace", type=Path, help="a HOMEWARD_TRACE file")
    parser.add_argument("--messages", type=int, help="answered messages (default: the web's inbound inserts)")
    args = parser.parse_args(argv)
    with args.trace.open(encoding="utf-8") as lines:
        found = breakdown(json.loads(line) for line in lines if line.strip())
    messages = args.messages or found["inserts"]
    print(f"{messages} messages\n")
    print(report(found, max(messages, 1)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
