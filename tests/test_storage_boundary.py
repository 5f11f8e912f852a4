"""storage/ owns MongoDB: the panel (admin/) and the jobs (workers/) reach it only through storage's named functions."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUARDED = ("admin", "api", "workers")
DRIVERS = ("pymongo", "gridfs")
DATABASE_NAMES = ("db", "_db")  # how code holds the database: `db`, `self._db`, `connections.db`


def violations(source: str, filename: str) -> list[str]:
    """Each driver import and each direct use of a database handle, as "file:line: what"."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            names = []
        found += [f"{filename}:{node.lineno}: imports {name}" for name in names if name.split(".")[0] in DRIVERS]
        if isinstance(node, (ast.Attribute, ast.Subscript)) and _is_database(node.value):
            found += [f"{filename}:{node.lineno}: uses the database directly: {ast.unparse(node)}"]
    return found


def _is_database(node: ast.expr) -> bool:
    """`db`, `self._db`, `homeward().connections.db`: a handle that may be passed on but not used."""
    if isinstance(node, ast.Name):
        return node.id in DATABASE_NAMES
    return isinstance(node, ast.Attribute) and node.attr in DATABASE_NAMES


def test_the_panel_and_the_jobs_leave_mongodb_to_storage() -> None:
    paths = [path for package in GUARDED for path in sorted((ROOT / package).rglob("*.py"))]
    found = [hit for path in paths for hit in violations(path.read_text(), str(path.relative_to(ROOT)))]
    assert not found, "query through a named function in storage/ instead:\n" + "\n".join(found)


def test_the_check_sees_imports_collection_calls_and_subscripts() -> None:
    source = "\n".join(
        [
            "from pymongo import ReturnDocument",
            "import gridfs",
            "rows = db.cases.find({})",
            "seen = self._db.counters.find_one({})",
            "user = homeward().connections.db.users.find_one({})",
            "doc = db['outbox'].find_one()",
            "fine = find_case(connections.db, 'C-1')",
        ]
    )
    assert [line.split(":")[1] for line in violations(source, "x.py")] == ["1", "2", "3", "4", "5", "6"]
