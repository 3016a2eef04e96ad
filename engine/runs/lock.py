"""One training per run folder: `RunLock` holds `run.lock` while a training writes the folder.

The lock is an advisory `flock` on `run.lock`, which also names the holder (process id, host, start
time). The kernel drops a flock when its process dies, even by SIGKILL, so a lock left by a dead
training is free: the next training takes it over (and clears the temporary files a killed write
left). A second training on a folder whose holder is alive gets one sentence. The file is removed
when the training ends; a folder the lock created and that stayed empty is removed too.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from pathlib import Path

from engine.errors import UserError
from engine.runs.atomic import TMP_SUFFIX, failure_reason, write_failure

log = logging.getLogger(__name__)

LOCK = "run.lock"


def lock_holder(folder: Path) -> dict:
    """What `run.lock` says about its holder ({} when there is no readable lock file)."""
    try:
        holder = json.loads((Path(folder) / LOCK).read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def held_by_a_live_process(folder: Path) -> bool:
    """True when `run.lock` names a process of this host that is still running (for the runs list:
    it never takes the lock, so it cannot get in a training's way)."""
    holder = lock_holder(folder)
    pid = holder.get("pid")
    if not isinstance(pid, int) or holder.get("host") != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


class RunLock:
    """`with RunLock(folder):` while a training writes `folder` (created if missing)."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK
        self._fd: int | None = None
        self._made_folder = False

    def __enter__(self) -> "RunLock":
        try:
            self._made_folder = not self.folder.exists()
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"The run folder {self.folder} could not be made because {failure_reason(exc)}; "
                            "choose a folder you can write to.") from exc
        try:
            self._fd = self._take()
        except OSError as exc:
            self._remove_folder_if_made()
            raise UserError(write_failure(self.path, exc)) from exc
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def _take(self) -> int:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                self._remove_folder_if_made()
                pid = lock_holder(self.folder).get("pid", "unknown")
                raise UserError(f"The run folder {self.folder} is in use by another training (process {pid}); "
                                "wait for it to end or choose another folder.") from None
            if self._still_the_lock_file(fd):
                break
            os.close(fd)  # its holder removed the file between our open and our lock: take the new one
        previous = lock_holder(self.folder)
        if previous:
            log.warning("taking over the lock of %s left by process %s, which has ended",
                        self.folder, previous.get("pid"))
            self._clear_temporary_files()
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}).encode())
        os.fsync(fd)
        return fd

    def _still_the_lock_file(self, fd: int) -> bool:
        try:
            return os.fstat(fd).st_ino == os.stat(self.path).st_ino
        except FileNotFoundError:
            return False

    def _clear_temporary_files(self) -> None:
        """Temporary files of a write that was killed half-way (the files they were to replace are intact)."""
        for tmp in self.folder.glob(f".*{TMP_SUFFIX}"):
            tmp.unlink(missing_ok=True)

    def release(self) -> None:
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)  # while still locked, so no one takes a file about to vanish
        os.close(self._fd)
        self._fd = None
        self._remove_folder_if_made()

    def _remove_folder_if_made(self) -> None:
        """Nothing half-written: a folder made for a training that wrote nothing in it goes again."""
        if self._made_folder and self.folder.is_dir() and not any(self.folder.iterdir()):
            self.folder.rmdir()
