"""Files that are either wholly written or not at all: write a temporary file beside the target,
fsync it, then rename it over the target (a rename within one folder is atomic on POSIX file systems)
and fsync the folder so the rename itself survives a power cut.

A process killed at any moment (SIGKILL, a full disk, a power cut) leaves either the old file or the
new one, never a mixture; at worst a `*.tmp` file that the next write replaces. Writes that fail for
a reason the user can fix (no space, no permission, a read-only disk) become one-sentence `UserError`s.
"""
from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

from engine.errors import UserError

TMP_SUFFIX = ".tmp"


def temporary_path(path: Path) -> Path:
    """Where `path` is written before it is renamed into place (same folder, so the rename is atomic)."""
    return path.with_name(f".{path.name}{TMP_SUFFIX}")


def write_staged(path: Path, write: Callable[[Path], None]) -> Path:
    """Write `path`'s new content to its temporary file with `write(tmp)` and fsync it; nothing is renamed.

    Returns the temporary path; `publish` puts it in place. On failure the temporary file is removed
    and the error goes on; `path` itself is never touched.
    """
    tmp = temporary_path(path)
    try:
        write(tmp)
        _fsync_file(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def publish(tmp: Path, path: Path) -> None:
    """Rename a staged file over `path` and make the rename durable."""
    os.replace(tmp, path)
    fsync_folder(path.parent)


def discard(paths: list[Path]) -> None:
    for tmp in paths:
        tmp.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes | str) -> None:
    """Replace `path` with `data` in one step (see the module's docstring); a refused write is one sentence."""
    payload = data.encode() if isinstance(data, str) else data
    try:
        publish(write_staged(path, lambda tmp: tmp.write_bytes(payload)), path)
    except OSError as exc:
        discard([temporary_path(path)])
        raise UserError(write_failure(path, exc)) from exc


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_folder(folder: Path) -> None:
    """Make a folder's entries (a new or renamed file) durable; a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a folder; the rename is still atomic
    finally:
        os.close(fd)


def failure_reason(exc: OSError) -> str:
    """Why the operating system refused a write, as the end of a sentence ("the disk is full")."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk is full"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission to write there was denied"
    if exc.errno == errno.EROFS:
        return "the disk is read-only"
    if exc.errno in (errno.ENOTDIR, errno.ENOENT):
        return "a part of that path is missing or is a file"
    return os.strerror(exc.errno).lower() if exc.errno else str(exc).rstrip(".").lower()


def write_failure(path: Path, exc: OSError) -> str:
    """One sentence for a write to `path` that the operating system refused."""
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
    advice = "free some space and try again" if full else "choose a folder you can write to"
    return f"{path.name} could not be written in {path.parent} because {failure_reason(exc)}; {advice}."
