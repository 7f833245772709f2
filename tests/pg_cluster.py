"""A throwaway PostgreSQL cluster for the test suite, from Debian's `postgresql` package.

The cluster lives in a temporary folder, listens only on a unix socket there, trusts local
connections, and runs as an ordinary user (`postgres` when the tests run as root, since the
server refuses to run as root). The fixtures in conftest.py start one per test session; CI
starts one with

    python -m tests.pg_cluster start    # prints the admin URL, e.g. for LATTE_TEST_PG_URL
    python -m tests.pg_cluster stop URL
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlparse

SERVER_OPTIONS = (
    "-c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    "-c max_connections=200"
)


def find_binary(name: str) -> str | None:
    """A PostgreSQL server program from PATH or Debian's versioned folders (newest first)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[4]) if Path(p).parts[4].isdigit() else 0,
    )
    return candidates[-1] if candidates else None


def available() -> bool:
    return find_binary("initdb") is not None and find_binary("pg_ctl") is not None


def _as_server_user(folder: Path) -> list[str]:
    if os.geteuid() != 0:
        return []
    shutil.chown(folder, user="postgres", group="postgres")
    folder.chmod(0o700)
    return ["runuser", "-u", "postgres", "--"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start() -> str:
    """Start a cluster; returns the admin URL (database `postgres`, role `latte`)."""
    initdb, pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql")
    folder = Path(tempfile.mkdtemp(prefix="latte-pg-"))
    runner = _as_server_user(folder)
    data = folder / "data"
    port = _free_port()
    subprocess.run(
        [
            *runner,
            initdb,
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "latte",
            "-E",
            "UTF8",
            "--locale",
            "C",
            "--no-sync",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    subprocess.run(
        [
            *runner,
            pg_ctl,
            "-D",
            str(data),
            "-l",
            str(folder / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            f"-k {folder} -p {port} {SERVER_OPTIONS}",
            "start",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return f"postgresql+psycopg://latte@/postgres?host={folder}&port={port}"


def stop(url: str) -> None:
    folder = Path(parse_qs(urlparse(url).query)["host"][0])
    pg_ctl = find_binary("pg_ctl")
    if pg_ctl and (folder / "data").exists():
        runner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(
            [*runner, pg_ctl, "-D", str(folder / "data"), "-m", "immediate", "stop"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["start"]:
        print(start())
    elif sys.argv[1:2] == ["stop"] and len(sys.argv) == 3:
        stop(sys.argv[2])
    else:
        sys.exit("usage: python -m tests.pg_cluster start | stop URL")
