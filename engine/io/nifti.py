"""NIfTI (.nii, .nii.gz) through nibabel."""
from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from engine.errors import UserError
from engine.io.limits import check_claimed_size
from engine.io.orientation import orientation_codes
from engine.io.volume import Volume


def _free_text(header) -> dict[str, str]:
    """The header's free-text fields. Converters write acquisition times and names there, which
    PS3.15 counts as identifying, so they are kept with the identifiers, hidden until asked."""
    found = {}
    for key, label in (("descrip", "Description"), ("aux_file", "Auxiliary file"), ("db_name", "Database name")):
        value = header.get(key)
        text = value.tobytes().strip(b"\0").decode("latin-1").strip() if value is not None else ""
        if text:
            found[label] = text
    return found


def read_nifti(path: Path) -> tuple[np.ndarray, np.ndarray, Volume]:
    """Raw (array, affine) as stored, plus a Volume shell with metadata (no array yet)."""
    image = nib.load(str(path))
    shape = image.shape
    if 0 in shape:
        raise UserError(f"{path.name} holds no voxels (its grid is {' x '.join(map(str, shape))}).")
    if len(shape) == 1:
        raise UserError(f"{path.name} is a line of {shape[0]} values, not an image or a volume.")
    stored = None
    if not path.name.lower().endswith(".gz"):
        stored = path.stat().st_size - max(int(image.header.get("vox_offset", 0)), 352)
    check_claimed_size(path.name, shape, image.header.get_data_dtype().itemsize, stored)
    if len(shape) > 3 and int(np.prod(shape[3:])) > 1:
        raise UserError(
            f"{path.name} is a 4D volume ({' x '.join(map(str, shape))}); "
            "SpikeView opens 3D volumes only, so save one time point as its own file."
        )
    array = np.asanyarray(image.dataobj)  # applies scl_slope / scl_inter
    array = array.reshape(shape[:3]) if array.ndim > 3 else array
    if array.ndim == 2:
        array = array[:, :, None]
    header = image.header
    metadata = {
        "Format": "NIfTI-1" if isinstance(image, nib.Nifti1Image) else type(image).__name__,
        "Stored orientation": orientation_codes(image.affine),
        "Stored data type": str(header.get_data_dtype()),
    }
    shell = Volume(array=np.empty(0), spacing=(1.0, 1.0, 1.0), metadata=metadata, identifiers=_free_text(header))
    return array, image.affine.astype(float), shell
