"""The arrows of the house: each package imports only the layers beneath it.

bot/ translates platform payloads (core and config, platform SDKs); core/
decides without I/O; storage/ keeps data and never reaches up to the code
that uses it; search/ follows it into vector indexes; services/ is what the
web (admin/) and the jobs (workers/) both call; config/ reads the environment
and needs nothing else of ours. Every package is a room with its arrows.
An import against an arrow fails here, naming the module, line and import.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = frozenset(path.name for path in ROOT.iterdir() if (path / "__init__.py").is_file())

# The project packages each room may import, and why. Every package but tests/ is a room here.
_TOOLS = frozenset(PROJECT - {"tests"})  # the command line and the benchmarks stand above the whole house
ARROWS: dict[str, tuple[frozenset[str], str]] = {
    "config": (frozenset({"config"}), "config/ is read by every layer, so it can use none of them"),
    "core": (frozenset({"core"}), "core/ holds pure decisions; I/O belongs in workers/ or storage/"),
    "bot": (frozenset({"bot", "core", "config"}), "bot/ only translates; storing and enqueueing belong in services/"),
    "storage": (frozenset({"storage", "core", "config"}), "storage/ is used by the rooms above it, never the reverse"),
    "search": (
        frozenset({"search", "storage", "core", "config"}),
        "search/ follows what storage keeps; the jobs that search live in workers/",
    ),
    "services": (
        frozenset({"services", "storage", "bot", "core", "config"}),
        "services/ is what the web and the workers both call; it names jobs (services/queue.py) but runs none",
    ),
    "workers": (
        frozenset({"workers", "services", "search", "storage", "bot", "core", "config"}),
        "workers/ holds the jobs; the web process never imports it",
    ),
    "admin": (
        frozenset({"admin", "api", "services", "storage", "bot", "core", "config", "infra", "cli"}),
        "admin/ (the web process) calls services/, never the workers' jobs or the face search",
    ),
    "api": (
        frozenset({"api", "admin", "services", "storage", "bot", "core", "config"}),
        "api/ (the partner API, in the web process) reuses the panel's checks and services/, never the workers",
    ),
    "infra": (frozenset({"infra", "storage", "core", "config"}), "infra/ starts the servers and processes"),
    "standins": (frozenset({"standins", "infra"}), "stand-ins play the platforms: they know nothing of Homeward"),
    "evaluation": (frozenset({"evaluation", "core", "config"}), "evaluation/ measures core's face engines"),
    "cli": (_TOOLS, "the command line may call any room"),
    "benchmarks": (_TOOLS | {"tests"}, "benchmarks may call any room and reuse the tests' photos"),
}
# Libraries that would make a translation an application step (storing, queueing, serving).
BOT_FORBIDDEN = frozenset({"pymongo", "bson", "gridfs", "rq", "flask", "werkzeug"})
# core/ may use the standard library except its network and process modules, and these computation libraries.
# faiss and usearch (vector search) are imported only by core/heavy.py, the one door to each heavy library.
CORE_THIRD_PARTY = frozenset(
    {"numpy", "PIL", "pillow_heif", "cv2", "dateutil", "face_recognition", "dlib", "onnxruntime", "retinaface"}
    | {"segno", "uharfbuzz"}  # appeals' posters: QR codes, Hindi shaped where Pillow has no raqm
    | {"faiss", "usearch"}
)
CORE_STDLIB_IO = frozenset(
    {
        "asyncio",
        "dbm",
        "ftplib",
        "http",
        "imaplib",
        "multiprocessing",
        "poplib",
        "selectors",
        "shelve",
        "smtplib",
        "socket",
        "socketserver",
        "sqlite3",
        "ssl",
        "subprocess",
        "urllib",
        "xmlrpc",
    }
)


@dataclass(frozen=True)
class Import:
    module: str  # absolute dotted name, e.g. storage.conversations
    where: str  # bot/inbox.py:8


def imports_of(path: Path, root: Path = ROOT) -> list[Import]:
    """Every import in the file, at any depth (lazy ones inside functions too), relative ones resolved."""
    relative = path.relative_to(root)
    package = list(relative.parent.parts)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            names = [".".join(base + ([node.module] if node.module else []))]
        else:
            continue
        found += [Import(name, f"{relative.as_posix()}:{node.lineno}") for name in names]
    return found


def problem(layer: str, imported: Import) -> str | None:
    """Why this import breaks the layer's arrows, or None when it is allowed."""
    top = imported.module.split(".")[0]
    allowed, why = ARROWS[layer]
    if top in PROJECT:
        if top not in allowed:
            only = ", ".join(sorted(allowed))
            return f"{imported.where} imports {imported.module}: {layer}/ may import only {only} ({why})"
        return None
    if layer == "bot" and top in BOT_FORBIDDEN:
        return f"{imported.where} imports {imported.module}: {why}"
    if layer == "core":
        if top in CORE_STDLIB_IO:
            return f"{imported.where} imports {imported.module}, a network or process module: {why}"
        if top not in sys.stdlib_module_names and top not in CORE_THIRD_PARTY:
            return (
                f"{imported.where} imports {imported.module}: {why}; if it is a pure computation library, "
                "add it to CORE_THIRD_PARTY in tests/test_layers.py"
            )
    return None


def problems_in(layer: str, root: Path = ROOT) -> tuple[int, list[str]]:
    """How many modules the layer has, and every import in them that breaks its arrows."""
    modules = sorted((root / layer).rglob("*.py"))
    found = [
        message for path in modules for imported in imports_of(path, root) if (message := problem(layer, imported))
    ]
    return len(modules), found


def test_every_package_is_a_room_with_its_arrows() -> None:
    missing = sorted(PROJECT - {"tests"} - set(ARROWS))
    assert not missing, f"add {missing} to ARROWS in tests/test_layers.py, with what each may import and why"


@pytest.mark.parametrize("layer", sorted(ARROWS))
def test_each_layer_imports_only_what_lies_beneath_it(layer: str) -> None:
    modules, found = problems_in(layer)
    assert modules > 0, f"no modules found under {layer}/"
    assert not found, "imports against the arrows of the house:\n  " + "\n  ".join(found)


def test_a_wrong_arrow_is_named_with_its_module_line_and_import(tmp_path: Path) -> None:
    """The checker itself: the old bot/inbox.py, a core module reaching for Redis, relative imports."""
    (tmp_path / "bot").mkdir()
    (tmp_path / "bot" / "inbox.py").write_text(
        "from core.conversation.messages import Inbound\n"
        "from storage.conversations import store_inbound\n"
        "from rq import Queue\n"
        "import redis\n"
        "from . import channels\n"
        "def later():\n"
        "    from ..workers import queue\n"
    )
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "rate.py").write_text("import time\nimport numpy as np\nimport redis\nimport urllib.request\n")

    modules, found = problems_in("bot", tmp_path)
    assert modules == 1
    assert found[0].startswith("bot/inbox.py:2 imports storage.conversations: bot/ may import only bot, config, core")
    assert found[1].startswith("bot/inbox.py:3 imports rq:")
    assert found[2].startswith("bot/inbox.py:7 imports workers:")
    assert len(found) == 3  # core, redis (the simulator's platform) and bot itself are fine

    _, found = problems_in("core", tmp_path)
    assert [message.split(":")[1] for message in found] == [
        "3 imports redis",
        "4 imports urllib.request, a network or process module",
    ]
