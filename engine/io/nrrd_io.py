"""NRRD through pynrrd: 'space directions' and 'space origin' give the affine."""
from __future__ import annotations

from pathlib import Path

import nrrd
import numpy as np

from engine.errors import UserError
from engine.io.limits import check_claimed_size
from engine.io.orientation import LPS_TO_RAS, orientation_codes
from engine.io.volume import Volume

_SPACE_TO_RAS = {
    "left-posterior-superior": LPS_TO_RAS,
    "lps": LPS_TO_RAS,
    "right-anterior-superior": np.eye(4),
    "ras": np.eye(4),
    "left-anterior-superior": np.diag([-1.0, 1.0, 1.0, 1.0]),
    "las": np.diag([-1.0, 1.0, 1.0, 1.0]),
}


_STRUCTURAL_FIELDS = {
    "type", "dimension", "space", "space dimension", "sizes", "space directions", "space origin", "kinds",
    "endian", "encoding", "spacings", "thicknesses", "axis mins", "axis maxs", "centers", "centerings",
    "labels", "units", "space units", "min", "max", "old min", "old max", "data file", "line skip",
    "byte skip", "measurement frame", "block size", "sample units",
}


def nrrd_affine(header: dict) -> np.ndarray:
    """Voxel -> RAS affine from the header; plain 'spacings' (or unit steps) when no space is given."""
    affine = np.eye(4)
    directions = header.get("space directions")
    if directions is not None:
        rows = [np.asarray(d, dtype=float) for d in directions if d is not None and not np.any(np.isnan(np.asarray(d, dtype=float)))]
        if len(rows) >= 3:
            affine[:3, :3] = np.stack(rows[:3], axis=1)
        affine[:3, 3] = np.asarray(header.get("space origin", np.zeros(3)), dtype=float)[:3]
        space = str(header.get("space", "left-posterior-superior")).lower()
        return _SPACE_TO_RAS.get(space, LPS_TO_RAS) @ affine
    spacings = header.get("spacings")
    if spacings is not None:
        affine[:3, :3] = np.diag(np.nan_to_num(np.asarray(spacings, dtype=float)[:3], nan=1.0))
    return affine


def read_nrrd(path: Path) -> tuple[np.ndarray, np.ndarray, Volume]:
    with open(path, "rb") as handle:
        header = nrrd.read_header(handle)
        raw = str(header.get("encoding", "")).lower() == "raw" and "data file" not in header
        stored = path.stat().st_size - handle.tell() if raw else None
        # at least one byte per voxel: enough to catch a header that claims what no file holds
        check_claimed_size(path.name, header.get("sizes", ()), 1, stored)
        data = nrrd.read_data(header, handle, str(path), index_order="F")
    kinds = [str(k).lower() for k in header.get("kinds", [])]
    if data.ndim == 4 and kinds and kinds[0] in ("vector", "rgb-color", "list", "covariant-vector"):
        raise UserError(f"{path.name} holds a vector per voxel ({data.shape[0]} components); SpikeView opens scalar volumes only.")
    if data.ndim > 3:
        raise UserError(
            f"{path.name} is a {data.ndim}D volume ({' x '.join(map(str, data.shape))}); SpikeView opens 3D volumes only."
        )
    if data.ndim == 2:
        data = data[:, :, None]
    affine = nrrd_affine(header)
    metadata = {"Format": "NRRD", "Stored orientation": orientation_codes(affine), "Stored data type": str(data.dtype)}
    for key in ("space", "encoding"):
        if key in header:
            metadata[key.capitalize()] = str(header[key])
    # free text (content, and the key/value pairs converters fill with DICOM fields) may identify a patient
    free_text = {str(key): str(value) for key, value in header.items() if key not in _STRUCTURAL_FIELDS}
    return data, affine, Volume(array=np.empty(0), spacing=(1.0, 1.0, 1.0), metadata=metadata, identifiers=free_text)
