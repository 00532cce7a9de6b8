"""A throw-away PostgreSQL server on 127.0.0.1, for the tests and ``bench/log.py``.

Made from the Debian ``postgresql`` package: ``initdb`` into a temporary
directory, ``pg_ctl start`` on a free port with the Unix socket in that directory.
As root, PostgreSQL refuses to run: it is then run as the ``postgres`` user.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import subprocess
import uuid
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine


def free_port() -> int:
    """A TCP port nobody listens on at this moment, on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """A throw-away PostgreSQL cluster listening on 127.0.0.1."""

    def __init__(self, bin_dir: Path, root: Path) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0

    def _command(self, *args: str) -> list[str]:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_postgres else []
        return [*prefix, *args]

    def init(self) -> None:
        """Create the cluster (not fsync'd while being created: it is thrown away)."""
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        subprocess.run(
            self._command(
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ),
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c max_connections=200"
        )
        subprocess.run(
            self._command(
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.root / "server.log"),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ),
            check=True,
            capture_output=True,
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: disconnect clients, roll back their transactions)."""
        subprocess.run(
            self._command(
                str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"
            ),
            check=True,
            capture_output=True,
        )

    def url(self, database: str = "postgres") -> str:
        """The log URL of a database on this server."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new, empty database; returns its name."""
        name = f"log_{uuid.uuid4().hex[:12]}"

        async def create() -> None:
            engine = create_async_engine(
                self.url().replace("postgresql://", "postgresql+asyncpg://"),
                isolation_level="AUTOCOMMIT",
            )
            try:
                async with engine.connect() as connection:
                    await connection.execute(text(f'CREATE DATABASE "{name}"'))
            finally:
                await engine.dispose()

        asyncio.run(create())
        return name


def postgres_bin_dir() -> Path | None:
    """Where the newest installed PostgreSQL keeps ``initdb`` and ``pg_ctl``; None if absent."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None
