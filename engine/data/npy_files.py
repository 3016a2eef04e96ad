"""Uncompressed `.npy` files of uint8 rows, with numpy alone: their headers, and writing them chunk by chunk.

Torch-free on purpose: the MedMNIST reader (and so the app's dataset browser) needs only these.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np


def read_npy_header(handle) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, Fortran order, dtype) from the header of a `.npy` stream, leaving it at the data."""
    version = np.lib.format.read_magic(handle)
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    return reader(handle)


def read_npy_layout(handle) -> tuple[tuple[int, ...], int]:
    """(shape, offset of the data) of a C-ordered uint8 `.npy` file; ValueError for anything else."""
    shape, fortran, dtype = read_npy_header(handle)
    if dtype != np.uint8 or fortran:
        raise ValueError(f"{getattr(handle, 'name', 'the file')} does not hold C-ordered uint8 rows")
    return tuple(shape), handle.tell()


def write_npy_rows(path: Path, shape: tuple[int, ...], chunks: Iterable[np.ndarray]) -> None:
    """Write uint8 rows chunk by chunk as a `.npy` file, atomically (a reader never sees half a file)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as handle:
            np.lib.format.write_array_header_2_0(handle, {"descr": "|u1", "fortran_order": False, "shape": shape})
            written = 0
            for chunk in chunks:
                handle.write(np.ascontiguousarray(chunk, np.uint8).data)
                written += len(chunk)
            if written != shape[0]:
                raise ValueError(f"{written} rows were written where {shape[0]} were expected")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
