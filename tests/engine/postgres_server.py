"""A throw-away PostgreSQL server for tests: `initdb` in a temporary folder, `pg_ctl` on a Unix socket there.

Debian's `postgresql` package provides the binaries (under /usr/lib/postgresql/<version>/bin, which is
not on PATH). PostgreSQL refuses to run as root: as root the server runs as the `postgres` user the
package creates, through `runuser`. No TCP port is opened, so parallel test runs cannot collide.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SERVER_BINARIES = ("initdb", "pg_ctl")


def find_bindir() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, else the newest Debian version."""
    on_path = [shutil.which(name) for name in SERVER_BINARIES]
    if all(on_path):
        return Path(on_path[0]).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    found = [Path(p) for p in versions if all((Path(p) / name).exists() for name in SERVER_BINARIES)]
    return found[-1] if found else None


def must_exist_here() -> bool:
    """Where the test suite runs as root with apt (CI: .ci/run installs postgresql), a missing server is
    a failure, not a skip."""
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


@dataclass
class PostgresServer:
    bindir: Path
    folder: Path
    user: str | None  # run the server as this user (when we are root)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def socket_dir(self) -> Path:
        return self.folder

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        result = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120)
        if result.returncode:
            raise RuntimeError(f"{Path(command[0]).name} failed ({result.returncode}): {result.stderr.strip()}")

    def start(self) -> None:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--locale=C")
        options = f"-c listen_addresses='' -k {self.socket_dir}"
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options,
                  "-l", str(self.folder / "server.log"), "-w", "start")

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def create_database(self, name: str) -> str:
        """A new database; its SQLAlchemy URL (the socket folder as host)."""
        import psycopg

        with psycopg.connect(dbname="postgres", user="postgres", host=str(self.socket_dir), autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@/{name}?host={self.socket_dir}"


def start_server() -> PostgresServer:
    """A running server in a fresh folder under /tmp (short: Unix socket paths are limited)."""
    bindir = find_bindir()
    if bindir is None:
        raise FileNotFoundError("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    folder = Path(tempfile.mkdtemp(prefix="spikeview-pg-"))
    user = None
    if os.geteuid() == 0:
        user = "postgres"
        account = pwd.getpwnam(user)
        os.chown(folder, account.pw_uid, account.pw_gid)
    server = PostgresServer(bindir, folder, user)
    try:
        server.start()
    except Exception:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return server
