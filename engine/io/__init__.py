"""Reading scans: every supported format becomes one `Volume` in one canonical orientation.

    from engine.io import load, list_series
    volume = load("scan.nii.gz")                   # NIfTI, NRRD, DICOM file, PNG/JPEG, .npy, MedMNIST .npz
    volume = load("dicom_folder", geometry="resample")  # gaps, uneven spacing, tilt: an even, straight grid
    series = list_series("dicom_folder")           # a folder with several series
    volume = load("dicom_folder", series_uid=series[0].uid, progress=print)

See `engine.io.volume` for the orientation conventions. Errors a user can fix raise
`engine.errors.UserError` with one sentence.

The readers (pydicom, nibabel, scipy) are imported on first use of a name below, not with the
package: `engine.io.volume` alone (the `Volume` type the app's views take) costs no reader imports.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_HOMES = {
    "engine.io.confidentiality": ("IDENTIFYING_KEYWORDS", "is_identifying"),
    "engine.io.dicom": ("SeriesInfo", "list_series"),
    "engine.io.geometry": ("AS_IS", "GEOMETRY_CHOICES", "RESAMPLE", "GeometryIssue"),
    "engine.io.labels": ("as_label", "find_label_for", "resample_label"),
    "engine.io.loader": ("SUPPORTED_EXTENSIONS", "file_kind", "guess_modality", "load"),
    "engine.io.medmnist_files": ("load_medmnist_sample", "sample_to_volume"),
    "engine.io.volume": ("AXIAL", "CORONAL", "SAGITTAL", "VIEW_AXES", "Volume"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

if TYPE_CHECKING:
    from engine.io.confidentiality import IDENTIFYING_KEYWORDS, is_identifying
    from engine.io.dicom import SeriesInfo, list_series
    from engine.io.geometry import AS_IS, GEOMETRY_CHOICES, RESAMPLE, GeometryIssue
    from engine.io.labels import as_label, find_label_for, resample_label
    from engine.io.loader import SUPPORTED_EXTENSIONS, file_kind, guess_modality, load
    from engine.io.medmnist_files import load_medmnist_sample, sample_to_volume
    from engine.io.volume import AXIAL, CORONAL, SAGITTAL, VIEW_AXES, Volume


def __getattr__(name: str):
    """`engine.io.load` and the other names: imported from their module on first use (PEP 562)."""
    if name not in _HOME_OF:
        raise AttributeError(f"module 'engine.io' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME_OF[name]), name)
    globals()[name] = value
    return value


def load_label(path, reference: Volume) -> Volume:
    """Read a label/mask file onto `reference`'s voxel grid: another grid is resampled through both
    affines (nearest neighbour) when they overlap in space, and refused in one sentence when they do not."""
    from engine.io.labels import as_label
    from engine.io.loader import load

    return as_label(load(path), reference)


__all__ = sorted([*_HOME_OF, "load_label"])
