"""`load(path)`: any supported scan file or DICOM folder -> one canonical `Volume`."""
from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from engine.errors import UserError
from engine.io import dicom, image2d, nifti, nrrd_io
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
SUPPORTED_EXTENSIONS = NIFTI_EXTENSIONS + NRRD_EXTENSIONS + DICOM_EXTENSIONS + PICTURE_EXTENSIONS + MEDMNIST_EXTENSIONS


def file_kind(path: Path) -> str | None:
    """'nifti' | 'nrrd' | 'dicom' | 'picture' | 'medmnist' | None (unsupported)."""
    name = path.name.lower()
    for kind, extensions in (
        ("nifti", NIFTI_EXTENSIONS), ("nrrd", NRRD_EXTENSIONS), ("dicom", DICOM_EXTENSIONS),
        ("picture", PICTURE_EXTENSIONS), ("medmnist", MEDMNIST_EXTENSIONS),
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


def load(path: Path | str, series_uid: str | None = None, progress: ProgressCallback | None = None) -> Volume:
    """Read a scan. Raises `UserError` (one sentence) for anything that cannot be opened.

    `series_uid` picks a series in a DICOM folder holding several (see `list_series`);
    `progress(fraction)` is called while a DICOM folder is read.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise UserError(f"{path} does not exist.")
    if path.is_dir():
        raw = _guarded(path, lambda: dicom.read_dicom_folder(path, series_uid, progress))
        volume = _finish(*raw, name=path.name)
    else:
        if path.stat().st_size == 0:
            raise UserError(f"{path.name} is empty (0 bytes).")
        kind = file_kind(path)
        if kind is None:
            raise UserError(
                f"{path.name} is not a supported file type; SpikeView opens NIfTI, DICOM, NRRD, PNG/JPEG and MedMNIST .npz files."
            )
        volume = _guarded(path, lambda: _read_file(path, kind))
    if progress:
        progress(1.0)
    log.info("loaded %s: %s %s", path, volume.modality, volume.spatial_shape)
    return volume


def _read_file(path: Path, kind: str) -> Volume:
    name = scan_name(path)
    if kind == "picture":
        return _finish_2d(image2d.read_picture(path), name)
    if kind == "medmnist":
        return load_medmnist_sample(path, "train", 0)
    reader = {"nifti": nifti.read_nifti, "nrrd": nrrd_io.read_nrrd, "dicom": dicom.read_dicom_file}[kind]
    return _finish(*reader(path), name=name)


def _guarded(path: Path, read: Callable[[], object]):
    """Run a reader; turn library exceptions into one-sentence UserErrors."""
    try:
        return read()
    except UserError:
        raise
    except MemoryError as exc:
        raise UserError(f"{path.name} is too large to fit in memory.") from exc
    except (EOFError, zlib.error, OSError, ValueError, KeyError, IndexError, TypeError, AttributeError, RuntimeError) as exc:
        log.debug("reading %s failed", path, exc_info=True)
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path.name} could not be read: it is truncated, corrupt or not what its name says ({detail}).") from exc
    except Exception as exc:  # noqa: BLE001 - third-party readers raise their own types (nrrd.NRRDError, ...)
        log.debug("reading %s failed", path, exc_info=True)
        raise UserError(f"{path.name} could not be read: it is corrupt or not what its name says ({exc}).") from exc


def _clean_values(array: np.ndarray, volume: Volume) -> np.ndarray:
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
        raise UserError(f"{volume.name} holds no numbers at all (every voxel is NaN or infinite).")
    bad = int(array.size - np.count_nonzero(finite))
    fill = float(array[finite].min())
    array = np.where(finite, array, fill).astype(array.dtype)
    note = f"{bad} voxels were not numbers (NaN or infinite) and were set to the lowest value, {fill:.6g}."
    volume.metadata["Non-finite voxels replaced"] = str(bad)
    volume.warnings.append(note)
    return array


def _finish(array: np.ndarray, affine: np.ndarray, shell: Volume, name: str) -> Volume:
    shell.name = name
    if array.ndim != 3:
        raise UserError(f"{name} has {array.ndim} dimensions; SpikeView opens 2D images and 3D volumes.")
    if array.size == 0:
        raise UserError(f"{name} holds no voxels.")
    array = _clean_values(np.asarray(array), shell)
    if abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        shell.warnings.append("The file's orientation matrix is degenerate; it was replaced by 1 mm axis-aligned voxels.")
        affine = np.eye(4)
    shell.array, shell.affine = to_ras(array, affine)
    shell.spacing = spacing_from_affine(shell.affine)
    if shell.modality in ("", "OT"):
        shell.modality = guess_modality(name, shell.array)
    return shell


def _finish_2d(volume: Volume, name: str) -> Volume:
    volume.name = name
    if volume.array.size == 0:
        raise UserError(f"{name} holds no pixels.")
    volume.array = _clean_values(volume.array, volume)
    return volume
