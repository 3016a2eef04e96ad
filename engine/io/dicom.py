"""DICOM: a single file, a multi-frame file, or a folder of series (pydicom).

Slices are sorted by ImagePositionPatient projected on the slice normal; RescaleSlope/Intercept
are applied (CT in Hounsfield units). DICOM patient space is LPS; the affine returned is RAS.
Series are checked for mixed orientations and duplicated slices (left out, and said so), and for
gaps, uneven spacing and gantry tilt (see `engine.io.geometry`). Everything PS3.15's Basic Profile
counts as identifying goes to `Volume.identifiers`, never to `metadata`.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from engine.errors import UserError
from engine.io.confidentiality import is_identifying
from engine.io.geometry import POSITION_TOLERANCE_MM, GeometryIssue, SliceStack, StoredScan, stack_issues
from engine.io.orientation import LPS_TO_RAS
from engine.io.volume import Volume

log = logging.getLogger(__name__)

ProgressCallback = Callable[[float], None]

# What the inspector shows by default: none of these is in PS3.15's Basic Profile (a test checks).
_DESCRIPTIVE_KEYWORDS = (
    "Modality", "SeriesNumber", "Manufacturer", "ManufacturerModelName", "BodyPartExamined", "SliceThickness",
    "SpacingBetweenSlices", "GantryDetectorTilt", "KVP", "ConvolutionKernel", "MagneticFieldStrength",
    "RepetitionTime", "EchoTime", "PhotometricInterpretation", "BitsStored",
)
_BINARY_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UN"}


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
    """(descriptive metadata, identifiers) as strings. Identifiers are every attribute of the PS3.15
    Basic Profile present with a value (sequences and binary values are kept nowhere)."""
    metadata = {k: _text(ds.get(k)) for k in _DESCRIPTIVE_KEYWORDS if ds.get(k) not in (None, "")}
    identifiers = {
        element.keyword: _text(element.value) for element in ds
        if element.keyword and is_identifying(element.tag) and element.VR not in _BINARY_VRS
        and element.value not in (None, "")
    }
    metadata["Format"] = "DICOM"
    return metadata, identifiers


def _has_pixels(ds: pydicom.Dataset) -> bool:
    return "PixelData" in ds or "FloatPixelData" in ds or "DoubleFloatPixelData" in ds


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


def _slice_stack(row_dir, col_dir, spacing_rc, origins_lps) -> SliceStack:
    """Where voxel (col, row) of each slice lies, in RAS."""
    flip = np.diag(LPS_TO_RAS)[:3]
    return SliceStack(row_dir * spacing_rc[1] * flip, col_dir * spacing_rc[0] * flip, np.asarray(origins_lps) * flip)


def _nominal_step(ds: pydicom.Dataset) -> float | None:
    value = ds.get("SpacingBetweenSlices") or ds.get("SliceThickness")
    return abs(float(value)) if value else None


def _pixels(ds: pydicom.Dataset, path: Path) -> np.ndarray:
    try:
        return ds.pixel_array
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types for broken or unsupported pixel data
        log.debug("decoding %s failed", path.name, exc_info=True)
        raise UserError(_undecodable(ds, path, exc)) from exc


def _undecodable(ds: pydicom.Dataset, path: Path, exc: Exception) -> str:
    text = str(exc)
    found = re.search(r"less than expected \((\d+) vs (\d+) bytes\)", text)
    if found:
        return (f"The pixel data of {path.name} is incomplete ({int(found[1]):,} of {int(found[2]):,} bytes): "
                "the file is truncated, or its image size (Rows, Columns) is wrong.")
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if syntax is not None and syntax.is_compressed:
        return (f"The pixel data of {path.name} is compressed as {syntax.name}, which this installation "
                "cannot decode (pylibjpeg or GDCM adds it).")
    return f"The pixel data of {path.name} cannot be decoded: the file is corrupt."


def _scan(stack_crs: np.ndarray, affine_ras: np.ndarray, ds: pydicom.Dataset, extra: dict[str, str],
          stack: SliceStack | None = None, issues: list[GeometryIssue] | None = None) -> StoredScan:
    metadata, identifiers = _split_metadata(ds)
    metadata.update(extra)
    shell = Volume(array=np.empty(0), spacing=(1.0, 1.0, 1.0), modality=_text(ds.get("Modality")) or "OT",
                   metadata=metadata, identifiers=identifiers)
    return StoredScan(stack_crs, affine_ras, shell, stack, issues or [])


Item = tuple[Path, pydicom.Dataset]


def _read_all(files: list[Path] | tuple[Path, ...], progress: ProgressCallback | None) -> list[Item]:
    datasets = []
    for number, path in enumerate(files):
        try:
            datasets.append((path, pydicom.dcmread(path)))
        except (InvalidDicomError, OSError, EOFError, ValueError) as exc:
            raise UserError(f"{path.name} in this series is not a readable DICOM file ({exc}).") from exc
        if progress and number % 8 == 0:
            progress(0.5 + 0.4 * number / max(1, len(files)))
    return datasets


def _one_orientation(datasets: list[Item]) -> tuple[list[Item], list[GeometryIssue]]:
    """The largest group of images that share one orientation; the others are left out (and said so)."""
    groups: dict[tuple, list[Item]] = {}
    for item in datasets:
        iop = item[1].get("ImageOrientationPatient")
        key = tuple(np.round([float(v) for v in iop], 3)) if iop is not None else ()
        groups.setdefault(key, []).append(item)
    if len(groups) == 1:
        return datasets, []
    kept = max(groups.values(), key=len)
    left_out = len(datasets) - len(kept)
    finding = (f"{left_out} of the {len(datasets)} images of this series have another orientation "
               "(for example a localizer) and were left out")
    return kept, [GeometryIssue("orientation", finding)]


def _position(item: Item) -> np.ndarray:
    path, ds = item
    ipp = ds.get("ImagePositionPatient")
    if ipp is None:
        raise UserError(f"{path.name} has no ImagePositionPatient, so the slices of this series cannot be ordered.")
    return np.asarray([float(v) for v in ipp])


def _one_per_position(datasets: list[Item], normal: np.ndarray) -> tuple[list[Item], list[GeometryIssue]]:
    """Sorted along the normal; of several images at one position the lowest InstanceNumber is kept."""
    along = [float(_position(item) @ normal) for item in datasets]
    order = sorted(range(len(datasets)), key=lambda n: (along[n], int(datasets[n][1].get("InstanceNumber") or 0)))
    kept: list[int] = []
    identical = differing = 0
    for n in order:
        if kept and abs(along[n] - along[kept[-1]]) <= POSITION_TOLERANCE_MM:
            same = datasets[n][1].get("PixelData") == datasets[kept[-1]][1].get("PixelData")
            identical, differing = identical + same, differing + (not same)
            continue
        kept.append(n)
    issues = []
    if identical or differing:
        parts = [f"{identical} identical copies"] * bool(identical) + [f"{differing} with other pixels"] * bool(differing)
        finding = (f"{identical + differing} images of this series repeat a slice position ({', '.join(parts)}) "
                   "and were left out, keeping the first image at each position")
        if differing:
            finding += "; the series may mix several acquisitions, such as echoes or time points"
        issues.append(GeometryIssue("duplicate", finding))
    return [datasets[n] for n in kept], issues


def read_series(files: list[Path] | tuple[Path, ...], progress: ProgressCallback | None = None) -> StoredScan:
    """A series of single-frame files, checked for orientation, duplicates, gaps, spacing and tilt."""
    datasets, issues = _one_orientation(_read_all(files, progress))
    row_dir, col_dir = _orientation(datasets[0][1])
    datasets, duplicates = _one_per_position(datasets, np.cross(row_dir, col_dir)) if len(datasets) > 1 else (datasets, [])
    issues += duplicates
    if len(datasets) == 1:
        scan = read_dicom_file_dataset(datasets[0][1], datasets[0][0])
        scan.issues[:0] = issues
        return scan
    first = datasets[0][1]
    if len({(int(ds.Rows), int(ds.Columns)) for _, ds in datasets}) > 1:
        raise UserError("The slices of this DICOM series do not all have the same size.")
    stack = _slice_stack(row_dir, col_dir, _pixel_spacing(first), [_position(item) for item in datasets])
    issues += stack_issues(stack, nominal_step=_nominal_step(first))
    slices = [_rescaled(_pixels(ds, path), ds) for path, ds in datasets]
    common = np.result_type(*[s.dtype for s in slices])
    array = np.stack([s.astype(common, copy=False) for s in slices], axis=-1)  # rows, cols, slices
    array = array.transpose(1, 0, 2)  # cols (along row_dir), rows (along col_dir), slices
    return _scan(array, stack.median_affine(), first, {"Slices": str(len(datasets))}, stack, issues)


def _frame_geometry(ds: pydicom.Dataset, n_frames: int):
    """(row_dir, col_dir, spacing_rc, positions, nominal step) of an enhanced multi-frame file, or None."""
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
    return row_dir, col_dir, spacing, positions, _nominal_step(measures)


def _frame_rescale(ds: pydicom.Dataset) -> pydicom.Dataset:
    """The dataset holding RescaleSlope/Intercept (enhanced files keep it in a functional group)."""
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared and "PixelValueTransformationSequence" in shared[0]:
        return shared[0].PixelValueTransformationSequence[0]
    return ds


def _frames_stack(pixels: np.ndarray, geometry, path: Path) -> tuple[np.ndarray, SliceStack]:
    """Frames sorted along the normal, and where they lie; frames sharing a position are refused."""
    row_dir, col_dir, spacing, positions, _ = geometry
    along = np.asarray(positions) @ np.cross(row_dir, col_dir)
    order = np.argsort(along, kind="stable")
    if np.any(np.diff(along[order]) <= POSITION_TOLERANCE_MM):
        raise UserError(f"Several frames of {path.name} share one position; it holds more than one volume "
                        "(for example time points), which SpikeView cannot open as one scan.")
    return pixels[order], _slice_stack(row_dir, col_dir, spacing, [positions[i] for i in order])


def read_dicom_file_dataset(ds: pydicom.Dataset, path: Path) -> StoredScan:
    """One file (single- or multi-frame)."""
    if not _has_pixels(ds):
        raise UserError(f"{path.name} holds no image: it is a DICOM file without pixel data (for example a report "
                        "or a DICOMDIR), or a damaged one.")
    pixels = _pixels(ds, path)
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if samples > 1:
        raise UserError(f"{path.name} is a colour DICOM image; SpikeView opens grey-scale scans only.")
    pixels = _rescaled(pixels, _frame_rescale(ds))
    if n_frames == 1:
        pixels = pixels[None]
    extra = {"Frames": str(n_frames)}
    geometry = _frame_geometry(ds, n_frames) if n_frames > 1 else None
    if geometry is not None:
        pixels, stack = _frames_stack(pixels, geometry, path)
        issues = stack_issues(stack, nominal_step=geometry[4])
        return _scan(pixels.transpose(2, 1, 0), stack.median_affine(), ds, extra, stack, issues)
    row_dir, col_dir = _orientation(ds)
    step = _nominal_step(ds) or 1.0
    ipp = ds.get("ImagePositionPatient")
    origin = np.asarray([float(v) for v in ipp]) if ipp is not None else np.zeros(3)
    affine = _affine_lps(row_dir, col_dir, np.cross(row_dir, col_dir), _pixel_spacing(ds), step, origin)
    return _scan(pixels.transpose(2, 1, 0), LPS_TO_RAS @ affine, ds, extra)  # frames, rows, cols -> cols, rows, frames


def read_dicom_file(path: Path) -> StoredScan:
    try:
        ds = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, EOFError, ValueError, AttributeError) as exc:
        raise UserError(f"{path.name} is not a readable DICOM file ({exc}).") from exc
    return read_dicom_file_dataset(ds, path)


def read_dicom_folder(folder: Path, series_uid: str | None, progress: ProgressCallback | None) -> StoredScan:
    series = list_series(folder, progress)
    if series_uid is None:
        if len(series) > 1:
            raise UserError(f"The folder {folder.name} holds {len(series)} series; choose one of them to open.")
        chosen = series[0]
    else:
        matches = [s for s in series if s.uid == series_uid]
        if not matches:
            raise UserError(f"The folder {folder.name} has no series with the UID given.")
        chosen = matches[0]
    return read_series(list(chosen.files), progress)


def is_dicom_file(path: Path) -> bool:
    """True for files with the DICM preamble marker (whatever their extension)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False
