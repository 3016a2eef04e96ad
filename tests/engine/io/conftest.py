from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from dicom_writer import write_ct_series


@pytest.fixture(scope="session")
def ct_pitch(volumes_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """CT_pitch.nii.gz as (uint8 RAS array, affine): a real, obliquely acquired head CT."""
    image = nib.as_closest_canonical(nib.load(str(volumes_dir / "CT_pitch.nii.gz")))
    return np.asarray(image.dataobj).astype(np.uint8), image.affine


@pytest.fixture(scope="session")
def ct_series_dir(ct_pitch, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ct_series")
    write_ct_series(*ct_pitch, folder)
    return folder
