"""Reading scans: every supported format becomes one `Volume` in one canonical orientation.

    from engine.io import load, list_series
    volume = load("scan.nii.gz")                   # NIfTI, NRRD, DICOM file, PNG/JPEG, .npy, MedMNIST .npz
    volume = load("dicom_folder", geometry="resample")  # gaps, uneven spacing, tilt: an even, straight grid
    series = list_series("dicom_folder")           # a folder with several series
    volume = load("dicom_folder", series_uid=series[0].uid, progress=print)

See `engine.io.volume` for the orientation conventions. Errors a user can fix raise
`engine.errors.UserError` with one sentence.
"""
from engine.io.confidentiality import IDENTIFYING_KEYWORDS, is_identifying
from engine.io.dicom import SeriesInfo, list_series
from engine.io.geometry import AS_IS, GEOMETRY_CHOICES, RESAMPLE, GeometryIssue
from engine.io.labels import as_label, find_label_for, resample_label
from engine.io.loader import SUPPORTED_EXTENSIONS, file_kind, guess_modality, load
from engine.io.medmnist_files import load_medmnist_sample, sample_to_volume
from engine.io.volume import AXIAL, CORONAL, SAGITTAL, VIEW_AXES, Volume


def load_label(path, reference: Volume) -> Volume:
    """Read a label/mask file onto `reference`'s voxel grid: another grid is resampled through both
    affines (nearest neighbour) when they overlap in space, and refused in one sentence when they do not."""
    return as_label(load(path), reference)


__all__ = [
    "AS_IS", "AXIAL", "CORONAL", "GEOMETRY_CHOICES", "RESAMPLE", "SAGITTAL", "VIEW_AXES",
    "IDENTIFYING_KEYWORDS", "SUPPORTED_EXTENSIONS", "GeometryIssue", "SeriesInfo", "Volume",
    "as_label", "is_identifying", "file_kind", "find_label_for", "guess_modality",
    "list_series", "load", "load_label", "load_medmnist_sample", "resample_label", "sample_to_volume",
]
