"""Refuse, before reading any voxels, a file whose header claims more data than the file or this
computer's memory holds: a corrupt header must not end in an out-of-memory crash or a vague error."""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

from engine.errors import UserError


def human_bytes(count: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1000:
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.3g} {unit}"
        count /= 1000
    return f"{count:,.3g} TB" if count < 1000 else f"{count:,.0f} TB"


def memory_bytes() -> int | None:
    """Physical memory, where the system says (Linux, macOS); None elsewhere."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_readable_file(path: Path) -> None:
    """A file that exists and holds something."""
    if not path.exists():
        raise UserError(f"{path} does not exist.")
    if path.is_file() and path.stat().st_size == 0:
        raise UserError(f"{path.name} is empty (0 bytes).")


def check_claimed_size(name: str, shape: Sequence[int], itemsize: int, stored_bytes: int | None) -> None:
    """`stored_bytes`: the data the file holds after its header, when it is stored uncompressed."""
    claimed = math.prod(int(n) for n in shape) * itemsize
    grid = " x ".join(str(int(n)) for n in shape)
    if stored_bytes is not None and claimed > stored_bytes:
        raise UserError(f"{name} says it holds {grid} voxels ({human_bytes(claimed)}) but has only "
                        f"{human_bytes(stored_bytes)} of data: it is truncated or its header is corrupt.")
    memory = memory_bytes()
    if memory is not None and claimed > memory:
        raise UserError(f"{name} says it holds {grid} voxels ({human_bytes(claimed)}), more than this computer's "
                        f"memory ({human_bytes(memory)}): its header is corrupt or the scan is too large to open.")
