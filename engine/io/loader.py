"""`load(path)`: any supported scan file or DICOM folder -> one canonical `Volume`."""
from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.errors import UserError
from engine.io import arrays, dicom, image2d, nifti, nrrd_io
from engine.io.geometry import AS_IS, RESAMPLE, StoredScan, affine_issues, check_geometry_choice, regularize
from engine.io.limits import check_readable_file
from engine.io.medmnist_files import load_medmnist_sample
from engine.io.orientation import spacing_from_affine, to_ras
from engine.io.volume import Volume

log = logging.getLogger(__name__)

ProgressCallback = Callable[[float], None]

NIFTI_EXTENSIONS = (".nii", ".nii.gz")
NRRD_EXTENSIONS = (".nrrd", ".nhdr")
DICOM_EXTENSIONS = (".dcm", ".dicom", ".ima")
PICTURE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
MEDMNIST_EXTENSIONS = (".npz",)
ARRAY_EXTENSIONS = (".npy",)
SUPPORTED_EXTENSIONS = (NIFTI_EXTENSIONS + NRRD_EXTENSIONS + DICOM_EXTENSIONS + PICTURE_EXTENSIONS
                        + MEDMNIST_EXTENSIONS + ARRAY_EXTENSIONS)


def file_kind(path: Path) -> str | None:
    """'nifti' | 'nrrd' | 'dicom' | 'picture' | 'medmnist' | 'array' | None (unsupported)."""
    name = path.name.lower()
    for kind, extensions in (
        ("nifti", NIFTI_EXTENSIONS), ("nrrd", NRRD_EXTENSIONS), ("dicom", DICOM_EXTENSIONS),
        ("picture", PICTURE_EXTENSIONS), ("medmnist", MEDMNIST_EXTENSIONS), ("array", ARRAY_EXTENSIONS),
    ):
        if name.endswith(extensions):
            return kind
    return "dicom" if dicom.is_dicom_file(path) else None


def scan_name(path: Path) -> str:
    name = path.name
    for ext in sorted(SUPPORTED_EXTENSIONS, key=len, reverse=True):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return name


def guess_modality(name: str, array: np.ndarray) -> str:
    """Best guess for files that do not say: words in the name, else CT when values look like HU."""
    words = set(re.split(r"[^a-z0-9]+", name.lower()))
    if words & {"ct", "cta", "hu"}:
        return "CT"
    if words & {"mr", "mri", "t1", "t2", "flair", "dwi", "gd", "pd", "mra"}:
        return "MR"
    if array.size and np.issubdtype(array.dtype, np.number) and array.min() <= -900 and array.max() >= 300:
        return "CT"
    return "OT"


def load(path: Path | str, series_uid: str | None = None, progress: ProgressCallback | None = None,
         geometry: str = AS_IS) -> Volume:
    """Read a scan. Raises `UserError` (one sentence) for anything that cannot be opened.

    `series_uid` picks a series in a DICOM folder holding several (see `list_series`);
    `progress(fraction)` is called while a DICOM folder is read. A scan whose slices are missing,
    unevenly spaced, tilted or sheared opens as stored with a warning (`geometry="as_is"`), or
    resampled onto an even, straight grid (`geometry="resample"`); see `engine.io.geometry`.
    """
    check_geometry_choice(geometry)
    path = Path(path).expanduser()
    check_readable_file(path)
    if path.is_dir():
        volume = _guarded(path, lambda: _finish(dicom.read_dicom_folder(path, series_uid, progress), path, geometry,
                                                progress))
    else:
        kind = file_kind(path)
        if kind is None:
            raise UserError(
                f"{path.name} is not a supported file type; SpikeView opens NIfTI, DICOM, NRRD, PNG/JPEG, "
                "NumPy .npy and MedMNIST .npz files."
            )
        volume = _guarded(path, lambda: _read_file(path, kind, geometry))
    if progress:
        progress(1.0)
    log.info("loaded %s: %s %s", path.name, volume.modality, volume.spatial_shape)
    return volume


def _read_file(path: Path, kind: str, geometry: str) -> Volume:
    if kind == "picture":
        return _finish_plain(image2d.read_picture(path), path)
    if kind == "array":
        return _finish_plain(arrays.read_npy(path), path)
    if kind == "medmnist":
        return load_medmnist_sample(path, "train", 0)
    if kind == "dicom":
        return _finish(dicom.read_dicom_file(path), path, geometry)
    reader = {"nifti": nifti.read_nifti, "nrrd": nrrd_io.read_nrrd}[kind]
    return _finish(_from_affine(*reader(path)), path, geometry)


def _from_affine(array: np.ndarray, affine: np.ndarray, shell: Volume) -> StoredScan:
    """A NIfTI/NRRD grid: its affine says where the voxels are, and whether it is sheared."""
    scan = StoredScan(array, affine, shell)
    if array.ndim == 3 and not _degenerate(affine):
        scan.issues = affine_issues(affine, array.shape[2])
    return scan


def _degenerate(affine: np.ndarray) -> bool:
    return abs(np.linalg.det(affine[:3, :3])) < 1e-12 or not np.all(np.isfinite(affine))


_KIND_NAMES = {"nifti": "NIfTI", "nrrd": "NRRD", "dicom": "DICOM", "array": "NumPy .npy", "medmnist": "MedMNIST .npz"}
_TRUNCATED = re.compile(r"ended before|truncated|could only read|expected \d+ bytes|multiple of element size|less than expected")


def _guarded(path: Path, read: Callable[[], object]):
    """Run a reader; turn library exceptions into one-sentence UserErrors (the detail goes to the log)."""
    try:
        return read()
    except UserError:
        raise
    except MemoryError as exc:
        raise UserError(f"{path.name} is too large to fit in memory.") from exc
    except Exception as exc:  # noqa: BLE001 - readers raise many types (nrrd.NRRDError, zlib.error, ...)
        log.debug("reading %s failed", path, exc_info=True)
        raise UserError(_damaged(path, exc)) from exc


def _damaged(path: Path, exc: Exception) -> str:
    """One sentence for a file a library could not read."""
    if isinstance(exc, (EOFError, zlib.error)) or _TRUNCATED.search(str(exc).lower()):
        return (f"{path.name} could not be read: it is truncated, ending before all of its data (a copy or download "
                "may have stopped early).")
    if type(exc).__name__ == "NRRDError":  # its messages name the broken header field
        detail = re.sub(r"\.\s+", "; ", str(exc).strip().splitlines()[0].rstrip(".")) if str(exc).strip() else "unreadable"
        return f"{path.name} has a damaged NRRD header ({detail[:1].lower() + detail[1:]})."
    kind = _KIND_NAMES.get(file_kind(path) or "", path.suffix.lstrip(".").upper() + " image")
    return f"{path.name} could not be read as a {kind} file: it is corrupt or not what its name says."


def _clean_values(array: np.ndarray, volume: Volume, path: Path) -> np.ndarray:
    """Bool -> uint8, float64 -> float32, and NaN/inf replaced by the lowest finite value (noted)."""
    if array.dtype == bool:
        return array.astype(np.uint8)
    if not np.issubdtype(array.dtype, np.floating):
        return array
    if array.dtype == np.float64 or array.dtype == np.float16:
        array = array.astype(np.float32)
    finite = np.isfinite(array)
    if finite.all():
        return array
    if not finite.any():
        raise UserError(f"{path.name} holds no numbers at all (every voxel is NaN or infinite).")
    bad = int(array.size - np.count_nonzero(finite))
    fill = float(array[finite].min())
    array = np.where(finite, array, fill).astype(array.dtype)
    note = f"{bad} voxels were not numbers (NaN or infinite) and were set to the lowest value, {fill:.6g}."
    volume.metadata["Non-finite voxels replaced"] = str(bad)
    volume.warnings.append(note)
    return array


def _finish(scan: StoredScan, path: Path, geometry: str, progress: ProgressCallback | None = None) -> Volume:
    """A stored grid -> canonical Volume: values cleaned, geometry checked (and resampled on request), RAS order."""
    volume = scan.shell
    volume.name = name = path.name if path.is_dir() else scan_name(path)
    array, affine = scan.array, scan.affine
    if array.ndim != 3:
        raise UserError(f"{path.name} has {array.ndim} dimensions; SpikeView opens 2D images and 3D volumes.")
    if array.size == 0:
        raise UserError(f"{path.name} holds no voxels (its grid is {' x '.join(map(str, array.shape))}).")
    array = _clean_values(np.asarray(array), volume, path)
    if _degenerate(affine):
        volume.warnings.append("The file's orientation matrix is degenerate; it was replaced by 1 mm axis-aligned voxels.")
        affine, scan.stack, scan.issues = np.eye(4), None, []
    fixable = [issue for issue in scan.issues if issue.resampling_fixes]
    if fixable and geometry == RESAMPLE:
        array, affine = regularize(array, scan.slice_stack(), fixable,
                                   (lambda f: progress(0.9 + 0.1 * f)) if progress else None)
    if fixable:
        volume.metadata["Geometry"] = "resampled to an even, straight grid" if geometry == RESAMPLE else "as stored"
    volume.geometry_issues = list(scan.issues)
    volume.warnings.extend(issue.describe(geometry) for issue in scan.issues)
    volume.array, volume.affine = to_ras(array, affine)
    volume.spacing = spacing_from_affine(volume.affine)
    if volume.modality in ("", "OT"):
        volume.modality = guess_modality(name, volume.array)
    return volume


def _finish_plain(volume: Volume, path: Path) -> Volume:
    """A picture or array that carries no geometry: name, values cleaned, modality guessed."""
    volume.name = scan_name(path)
    if volume.array.size == 0:
        raise UserError(f"{path.name} holds no pixels.")
    volume.array = _clean_values(volume.array, volume, path)
    if volume.modality in ("", "OT") and volume.spatial_ndim == 3:
        volume.modality = guess_modality(volume.name, volume.array)
    return volume
