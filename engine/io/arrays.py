"""NumPy `.npy` files, the most common way a researcher hands over an image.

Axes are read as NumPy code writes them: rows x columns (a 2D image), rows x columns x 3 or 4 (a
colour image; alpha is dropped), or slices x rows x columns (a 3D volume, as MedMNIST and
`SimpleITK.GetArrayFromImage` store them). Leading axes of length 1 (a batch or channel of one)
are dropped. The file carries no geometry: voxels are 1 mm. Pickled objects are never loaded.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.errors import UserError
from engine.io.limits import check_claimed_size
from engine.io.volume import Volume, slices_to_volume_layout

_KINDS = {"U": "text", "S": "bytes", "c": "complex numbers", "V": "records", "M": "dates", "m": "time spans"}
_READABLE_SHAPES = ("SpikeView reads a .npy file as a 2D image (rows x columns, optionally x 3 colour channels) "
                    "or a 3D volume (slices x rows x columns)")


def read_npy(path: Path) -> Volume:
    _check_header(path)
    try:
        array = np.load(path, allow_pickle=False)  # unpickling a user's file could run code
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise UserError(f"{path.name} holds Python objects rather than numbers; SpikeView never loads "
                            "those, because unpickling a file can run code.") from exc
        raise
    if not isinstance(array, np.ndarray):
        raise UserError(f"{path.name} is not a single NumPy array.")
    return array_to_volume(array, path.name)


def _check_header(path: Path) -> None:
    """The shape and type the header claims, against the bytes that follow it."""
    with open(path, "rb") as handle:
        try:
            version = np.lib.format.read_magic(handle)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(handle)
        except ValueError as exc:
            raise UserError(f"{path.name} is not a NumPy .npy file: its header is damaged or it is another kind "
                            "of file.") from exc
        if not dtype.hasobject:
            check_claimed_size(path.name, shape, dtype.itemsize, path.stat().st_size - handle.tell())


def array_to_volume(array: np.ndarray, name: str) -> Volume:
    """A NumPy array as a 2D image or a 3D volume (see the module's axis rules)."""
    if array.dtype.names or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool) \
            or np.issubdtype(array.dtype, np.complexfloating):
        what = _KINDS.get(array.dtype.kind, "values")
        raise UserError(f"{name} holds {what} ({array.dtype}); SpikeView reads arrays of real numbers.")
    shape = " x ".join(map(str, array.shape)) or "a single number"
    if array.size == 0:
        raise UserError(f"{name} holds no voxels (its shape is {shape}).")
    while array.ndim > 2 and array.shape[0] == 1:
        array = array[0]
    metadata = {"Format": "NumPy .npy", "Stored shape": shape, "Stored data type": str(array.dtype)}
    if array.ndim == 2:
        metadata["Axes read as"] = "rows x columns"
        return Volume(array=np.ascontiguousarray(array), spacing=(1.0, 1.0), metadata=metadata)
    if array.ndim == 3 and array.shape[-1] in (3, 4) and min(array.shape[:2]) > 4:
        metadata["Axes read as"] = "rows x columns x colour"
        return Volume(array=np.ascontiguousarray(array[..., :3]), spacing=(1.0, 1.0), metadata=metadata)
    if array.ndim == 3:
        metadata["Axes read as"] = "slices x rows x columns, 1 mm voxels (the file carries no geometry)"
        return Volume(array=slices_to_volume_layout(array), spacing=(1.0, 1.0, 1.0), metadata=metadata)
    raise UserError(f"{name} is a {array.ndim}D array ({shape}); {_READABLE_SHAPES}.")
