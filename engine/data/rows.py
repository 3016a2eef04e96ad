"""The uint8 images of one split, as rows that are read when a batch asks for them.

`ArrayRows` holds them in memory (the phantoms, or where no cache folder can be written);
`FileRows` reads them from an uncompressed `.npy` file with positioned reads, so a process holds only
the rows of the batch in hand and never a copy of the split. Several processes (data-parallel ranks)
reading one file share the operating system's page cache. Both index like a tensor: `rows[index]`
with a slice, an int array or an int tensor gives a uint8 tensor [n, C, *spatial].
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch

from engine.data.npy_files import read_npy_layout

Index = slice | np.ndarray | torch.Tensor | list[int]


def _positions(index: Index, length: int) -> np.ndarray | slice:
    if isinstance(index, slice):
        start, stop, step = index.indices(length)
        return slice(start, max(start, stop)) if step == 1 else np.arange(start, stop, step)
    positions = np.asarray(index.numpy() if torch.is_tensor(index) else index, dtype=np.int64).reshape(-1)
    if len(positions) and (positions.min() < -length or positions.max() >= length):
        raise IndexError(f"row index out of range for {length} rows")
    return np.where(positions < 0, positions + length, positions)


class ArrayRows:
    """Rows held in memory: a uint8 array [N, C, *spatial]."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        self.shape = tuple(array.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: Index) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(self.array[_positions(index, len(self))]))

    def window(self, start: int, stop: int) -> "ArrayRows":
        return ArrayRows(self.array[start:stop])


class FileRows:
    """Rows read on demand from a C-ordered uint8 `.npy` file (rows `start`..`start + length` of it)."""

    def __init__(self, path: Path, start: int = 0, length: int | None = None) -> None:
        self.path = Path(path)
        with open(self.path, "rb") as handle:
            shape, self.offset = read_npy_layout(handle)
        self.row_shape = tuple(shape[1:])
        self.row_bytes = math.prod(self.row_shape)
        self.start = start
        self.shape = (shape[0] - start if length is None else length, *self.row_shape)
        self._fd: int | None = None
        self._pid = -1

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: Index) -> torch.Tensor:
        positions = _positions(index, len(self))
        if isinstance(positions, slice):
            out = np.empty((positions.stop - positions.start, *self.row_shape), np.uint8)
            self._read_run(out, positions.start)
            return torch.from_numpy(out)
        order = np.argsort(positions, kind="stable")
        ordered = positions[order]
        rows = np.empty((len(ordered), *self.row_shape), np.uint8)
        breaks = np.flatnonzero(np.diff(ordered) != 1) + 1  # runs of consecutive rows: one read each
        for first, stop in zip(np.r_[0, breaks], np.r_[breaks, len(ordered)]):
            self._read_run(rows[first:stop], int(ordered[first]))
        out = np.empty_like(rows)
        out[order] = rows
        return torch.from_numpy(out)

    def window(self, start: int, stop: int) -> "FileRows":
        return FileRows(self.path, self.start + start, max(0, min(stop, len(self)) - start))

    def _descriptor(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a forked child opens its own
            self._fd, self._pid = os.open(self.path, os.O_RDONLY), os.getpid()
        return self._fd

    def _read_run(self, out: np.ndarray, row: int) -> None:
        view = memoryview(out.reshape(-1))
        position = self.offset + (self.start + row) * self.row_bytes
        while len(view):
            got = os.preadv(self._descriptor(), [view], position)
            if got <= 0:
                raise OSError(f"{self.path} ended early; delete it to have it rebuilt.")
            view, position = view[got:], position + got

    def __del__(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
