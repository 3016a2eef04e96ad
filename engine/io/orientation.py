"""Bring any voxel grid + affine to the canonical RAS+ voxel order (see `engine.io.volume`)."""
from __future__ import annotations

import numpy as np
from nibabel.orientations import apply_orientation, axcodes2ornt, inv_ornt_aff, io_orientation, ornt_transform

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def to_ras(array: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reorder/flip the first three axes so they run L->R, P->A, I->S; returns (array, new affine).

    The array is a view of the stored one (transposes and flips only): a 512 x 512 x 300 CT stored
    x-fastest would take longer to copy into C order than to decompress. Slices for display are made
    contiguous one at a time (`Volume.display_slice`)."""
    current = io_orientation(affine)
    transform = ornt_transform(current, axcodes2ornt("RAS"))
    spatial = array.shape[:3]
    oriented = apply_orientation(array, transform)
    new_affine = affine @ inv_ornt_aff(transform, spatial)
    return oriented, new_affine


def spacing_from_affine(affine: np.ndarray) -> tuple[float, float, float]:
    return tuple(float(v) for v in np.linalg.norm(affine[:3, :3], axis=0))


def orientation_codes(affine: np.ndarray) -> str:
    """Axis codes of an affine as stored in the file (e.g. 'LPS'), for the inspector."""
    from nibabel.orientations import aff2axcodes

    return "".join(aff2axcodes(affine))
