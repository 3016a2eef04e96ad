"""DICOM: a single file, a multi-frame file, or a folder of series (pydicom).

Slices are sorted by ImagePositionPatient projected on the slice normal; RescaleSlope/Intercept
are applied (CT in Hounsfield units). DICOM patient space is LPS; the affine returned is RAS.
Patient-identifying fields are returned apart so the app can hide them.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from engine.errors import UserError
from engine.io.orientation import LPS_TO_RAS
from engine.io.volume import Volume

log = logging.getLogger(__name__)

ProgressCallback = Callable[[float], None]

IDENTIFYING_KEYWORDS = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientBirthTime", "PatientAddress",
    "OtherPatientIDs", "OtherPatientIDsSequence", "OtherPatientNames", "PatientTelephoneNumbers",
    "PatientMotherBirthName", "MilitaryRank", "EthnicGroup", "PatientInsurancePlanCodeSequence",
    "MedicalRecordLocator", "AccessionNumber", "InstitutionName", "InstitutionAddress",
    "ReferringPhysicianName", "PerformingPhysicianName", "OperatorsName", "PatientComments",
    "IssuerOfPatientID", "StudyID",
)
_DESCRIPTIVE_KEYWORDS = (
    "Modality", "StudyDescription", "SeriesDescription", "SeriesNumber", "StudyDate", "Manufacturer",
    "ManufacturerModelName", "BodyPartExamined", "SliceThickness", "KVP", "ConvolutionKernel",
    "MagneticFieldStrength", "RepetitionTime", "EchoTime", "PatientSex", "PatientAge",
    "SeriesInstanceUID", "StudyInstanceUID", "PhotometricInterpretation", "BitsStored",
)


@dataclass(frozen=True)
class SeriesInfo:
    """One series found in a folder."""

    uid: str
    description: str
    modality: str
    count: int
    files: tuple[Path, ...] = field(default=(), repr=False, compare=False)


def _text(value: object) -> str:
    return str(value).strip() if value is not None else ""


def _split_metadata(ds: pydicom.Dataset) -> tuple[dict[str, str], dict[str, str]]:
    """(descriptive metadata, patient identifiers) as strings."""
    metadata = {k: _text(ds.get(k)) for k in _DESCRIPTIVE_KEYWORDS if ds.get(k) not in (None, "")}
    identifiers = {k: _text(ds.get(k)) for k in IDENTIFYING_KEYWORDS if ds.get(k) not in (None, "")}
    metadata["Format"] = "DICOM"
    return metadata, identifiers


def _has_pixels(ds: pydicom.Dataset) -> bool:
    return "PixelData" in ds or "FloatPixelData" in ds or "DoubleFloatPixelData" in ds or "Rows" in ds


def _read_header(path: Path) -> pydicom.Dataset | None:
    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, AttributeError, ValueError, EOFError, TypeError):
        return None


def list_series(folder: Path | str, progress: ProgressCallback | None = None) -> list[SeriesInfo]:
    """Every image series in a folder (searched recursively), largest first."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "DICOMDIR")
    groups: dict[str, list[tuple[Path, pydicom.Dataset]]] = {}
    for number, path in enumerate(files):
        ds = _read_header(path)
        if ds is not None and "Rows" in ds:
            groups.setdefault(_text(ds.get("SeriesInstanceUID")) or "unknown", []).append((path, ds))
        if progress and number % 16 == 0:
            progress(0.5 * number / max(1, len(files)))
    if not groups:
        raise UserError(f"The folder {folder.name} holds no DICOM images.")
    series = []
    for uid, members in groups.items():
        first = members[0][1]
        frames = sum(int(ds.get("NumberOfFrames", 1) or 1) for _, ds in members)
        series.append(
            SeriesInfo(
                uid=uid,
                description=_text(first.get("SeriesDescription")) or f"Series {_text(first.get('SeriesNumber')) or '?'}",
                modality=_text(first.get("Modality")) or "OT",
                count=frames,
                files=tuple(p for p, _ in members),
            )
        )
    return sorted(series, key=lambda s: -s.count)


def _rescaled(pixels: np.ndarray, ds: pydicom.Dataset) -> np.ndarray:
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    if slope == 1 and intercept == 0:
        return pixels
    out = pixels.astype(np.float32) * slope + intercept
    if np.all(np.mod(out, 1) == 0) and out.min() >= -32768 and out.max() <= 32767:
        return out.astype(np.int16)  # integral HU: keep them compact
    return out


def _orientation(ds: pydicom.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(row direction, column direction) cosines in LPS."""
    iop = ds.get("ImageOrientationPatient")
    if iop is None:
        return np.array([1.0, 0, 0]), np.array([0, 1.0, 0])
    values = np.asarray([float(v) for v in iop])
    return values[:3], values[3:]


def _pixel_spacing(ds: pydicom.Dataset) -> tuple[float, float]:
    """(between rows, between columns) in mm."""
    spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
    if spacing is None:
        return 1.0, 1.0
    return float(spacing[0]), float(spacing[1])


def _affine_lps(row_dir, col_dir, normal, spacing_rc, slice_step, origin) -> np.ndarray:
    """Voxel (col, row, slice) -> LPS mm."""
    affine = np.eye(4)
    affine[:3, 0] = row_dir * spacing_rc[1]
    affine[:3, 1] = col_dir * spacing_rc[0]
    affine[:3, 2] = normal * slice_step
    affine[:3, 3] = origin
    return affine


def _pixels(ds: pydicom.Dataset, path: Path) -> np.ndarray:
    try:
        return ds.pixel_array
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types for broken or unsupported pixel data
        raise UserError(f"The pixel data of {path.name} cannot be decoded ({exc}).") from exc


def _volume(stack_crs: np.ndarray, affine_lps: np.ndarray, ds: pydicom.Dataset, extra: dict[str, str]) -> tuple[np.ndarray, np.ndarray, Volume]:
    metadata, identifiers = _split_metadata(ds)
    metadata.update(extra)
    shell = Volume(array=np.empty(0), spacing=(1.0, 1.0, 1.0), modality=_text(ds.get("Modality")) or "OT",
                   metadata=metadata, identifiers=identifiers)
    return stack_crs, LPS_TO_RAS @ affine_lps, shell


def read_series(files: list[Path] | tuple[Path, ...], progress: ProgressCallback | None = None):
    """A series of single-frame files -> (array, RAS affine, Volume shell)."""
    datasets = []
    for number, path in enumerate(files):
        try:
            datasets.append((path, pydicom.dcmread(path)))
        except (InvalidDicomError, OSError, EOFError, ValueError) as exc:
            raise UserError(f"{path.name} in this series is not a readable DICOM file ({exc}).") from exc
        if progress and number % 8 == 0:
            progress(0.5 + 0.4 * number / max(1, len(files)))
    if len(datasets) == 1:
        return read_dicom_file_dataset(datasets[0][1], datasets[0][0])
    first = datasets[0][1]
    row_dir, col_dir = _orientation(first)
    normal = np.cross(row_dir, col_dir)
    positions = []
    for path, ds in datasets:
        ipp = ds.get("ImagePositionPatient")
        if ipp is None:
            raise UserError(f"{path.name} has no ImagePositionPatient, so the slices of this series cannot be ordered.")
        positions.append(np.asarray([float(v) for v in ipp]))
    order = np.argsort([p @ normal for p in positions])
    datasets = [datasets[i] for i in order]
    positions = [positions[i] for i in order]
    shapes = {(int(ds.Rows), int(ds.Columns)) for _, ds in datasets}
    if len(shapes) > 1:
        raise UserError("The slices of this DICOM series do not all have the same size.")
    steps = np.diff([p @ normal for p in positions])
    slice_step = float(np.median(steps)) if len(steps) else float(first.get("SliceThickness", 1) or 1)
    if slice_step == 0:
        raise UserError("Several slices of this DICOM series share one position; it may hold more than one volume.")
    slices = [_rescaled(_pixels(ds, path), ds) for path, ds in datasets]
    common = np.result_type(*[s.dtype for s in slices])
    stack = np.stack([s.astype(common, copy=False) for s in slices], axis=-1)  # rows, cols, slices
    stack = stack.transpose(1, 0, 2)  # cols (along row_dir), rows (along col_dir), slices
    affine = _affine_lps(row_dir, col_dir, normal, _pixel_spacing(first), slice_step, positions[0])
    extra = {"Slices": str(len(datasets))}
    if len(steps) and np.ptp(steps) > 0.01 * abs(slice_step):
        extra["Slice spacing"] = f"uneven ({steps.min():.3g}..{steps.max():.3g} mm); median used"
    return _volume(stack, affine, first, extra)


def _frame_geometry(ds: pydicom.Dataset, n_frames: int):
    """(row_dir, col_dir, spacing_rc, positions) of an enhanced multi-frame file, or None."""
    shared = ds.get("SharedFunctionalGroupsSequence")
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if not shared or not per_frame or len(per_frame) != n_frames:
        return None
    try:
        shared0 = shared[0]
        orient = shared0.PlaneOrientationSequence[0] if "PlaneOrientationSequence" in shared0 else per_frame[0].PlaneOrientationSequence[0]
        measures = shared0.PixelMeasuresSequence[0] if "PixelMeasuresSequence" in shared0 else per_frame[0].PixelMeasuresSequence[0]
        row_dir, col_dir = _orientation(orient)
        spacing = _pixel_spacing(measures)
        positions = [np.asarray([float(v) for v in f.PlanePositionSequence[0].ImagePositionPatient]) for f in per_frame]
    except (AttributeError, IndexError, KeyError):
        return None
    return row_dir, col_dir, spacing, positions


def _frame_rescale(ds: pydicom.Dataset) -> pydicom.Dataset:
    """The dataset holding RescaleSlope/Intercept (enhanced files keep it in a functional group)."""
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared and "PixelValueTransformationSequence" in shared[0]:
        return shared[0].PixelValueTransformationSequence[0]
    return ds


def read_dicom_file_dataset(ds: pydicom.Dataset, path: Path):
    """One file (single- or multi-frame) -> (array, RAS affine, Volume shell)."""
    if not _has_pixels(ds):
        raise UserError(f"{path.name} is a DICOM file without an image (for example a report or a DICOMDIR).")
    pixels = _pixels(ds, path)
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if samples > 1:
        raise UserError(f"{path.name} is a colour DICOM image; SpikeView opens grey-scale scans only.")
    pixels = _rescaled(pixels, _frame_rescale(ds))
    if n_frames == 1:
        pixels = pixels[None]
    geometry = _frame_geometry(ds, n_frames) if n_frames > 1 else None
    if geometry is not None:
        row_dir, col_dir, spacing, positions = geometry
        normal = np.cross(row_dir, col_dir)
        order = np.argsort([p @ normal for p in positions])
        pixels, positions = pixels[order], [positions[i] for i in order]
        steps = np.diff([p @ normal for p in positions])
        step = float(np.median(steps)) if len(steps) else 1.0
        origin = positions[0]
    else:
        row_dir, col_dir = _orientation(ds)
        normal = np.cross(row_dir, col_dir)
        spacing = _pixel_spacing(ds)
        step = float(ds.get("SpacingBetweenSlices") or ds.get("SliceThickness") or 1.0)
        ipp = ds.get("ImagePositionPatient")
        origin = np.asarray([float(v) for v in ipp]) if ipp is not None else np.zeros(3)
    stack = pixels.transpose(2, 1, 0)  # frames, rows, cols -> cols, rows, frames
    affine = _affine_lps(row_dir, col_dir, normal, spacing, step if step else 1.0, origin)
    return _volume(stack, affine, ds, {"Frames": str(n_frames)})


def read_dicom_file(path: Path):
    try:
        ds = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, EOFError, ValueError, AttributeError) as exc:
        raise UserError(f"{path.name} is not a readable DICOM file ({exc}).") from exc
    return read_dicom_file_dataset(ds, path)


def read_dicom_folder(folder: Path, series_uid: str | None, progress: ProgressCallback | None):
    series = list_series(folder, progress)
    if series_uid is None:
        if len(series) > 1:
            raise UserError(f"The folder {folder.name} holds {len(series)} series; choose one of them to open.")
        chosen = series[0]
    else:
        matches = [s for s in series if s.uid == series_uid]
        if not matches:
            raise UserError(f"The folder {folder.name} has no series with UID {series_uid}.")
        chosen = matches[0]
    array, affine, shell = read_series(list(chosen.files), progress)
    shell.metadata.setdefault("SeriesDescription", chosen.description)
    return array, affine, shell


def is_dicom_file(path: Path) -> bool:
    """True for files with the DICM preamble marker (whatever their extension)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False
