"""MedMNIST 2D and 3D, every flag and size: the one module that knows the official `.npz` files.

Everything about a flag (task, channels, label names, sample counts, checksums) comes from
`medmnist.INFO`. Files are found under a data root by their official names (`breastmnist.npz`,
`adrenalmnist3d_64.npz`), checked against their official md5 before first use, and downloaded
through medmnist when missing and the network allows.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.data.npy_files import read_npy_header
from engine.data.spec import SPLITS, DatasetSpec
from engine.errors import UserError
from engine.imports import import_torch

log = logging.getLogger(__name__)

SIZES_2D = (28, 64, 128, 224)
SIZES_3D = (28, 64)
_FILENAME = re.compile(r"^(?P<flag>[a-z0-9]+?)(?:_(?P<size>\d+))?\.npz$")


def _info() -> dict:
    import_torch()  # the medmnist package imports torch: never from two threads at once
    import medmnist  # creates ~/.medmnist on import; keep it lazy

    return medmnist.INFO


def medmnist_flags() -> list[str]:
    return list(_info())


def medmnist_spec(flag: str, size: int = 28) -> DatasetSpec:
    info = _info()
    if flag not in info:
        raise UserError(f"Unknown MedMNIST dataset '{flag}'; choose one of: {', '.join(info)}.")
    entry = info[flag]
    spatial_dims = 3 if flag.endswith("3d") else 2
    sizes = SIZES_3D if spatial_dims == 3 else SIZES_2D
    if size not in sizes:
        raise UserError(f"{flag} comes in sizes {', '.join(map(str, sizes))}, not {size}.")
    suffix = "" if size == 28 else f"_{size}"
    return DatasetSpec(
        flag=flag,
        size=size,
        task=entry["task"],
        n_channels=entry["n_channels"],
        labels={int(k): v for k, v in entry["label"].items()},
        spatial_dims=spatial_dims,
        n_samples=dict(entry["n_samples"]),
        md5=entry[f"MD5{suffix}"],
        url=entry[f"url{suffix}"],
    )


def default_data_root() -> Path:
    """`$SPIKEVIEW_DATA` when set, else medmnist's own folder `~/.medmnist`."""
    env = os.environ.get("SPIKEVIEW_DATA")
    return Path(env).expanduser() if env else Path.home() / ".medmnist"


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_VERIFIED_CACHE = Path.home() / ".cache" / "spikeview" / "verified_md5.json"


def _cache_key(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def _load_verified() -> dict:
    try:
        return json.loads(_VERIFIED_CACHE.read_text())
    except (OSError, ValueError):
        return {}


def verify_md5(path: Path, expected: str) -> None:
    """Refuse a file whose md5 is not the official one; remember files already verified."""
    verified = _load_verified()
    key = _cache_key(path)
    if verified.get(key) == expected:
        return
    actual = file_md5(path)
    if actual != expected:
        raise UserError(
            f"{path} is damaged or not the official file: its md5 is {actual}, expected {expected}."
        )
    verified[key] = expected
    try:
        _VERIFIED_CACHE.parent.mkdir(parents=True, exist_ok=True)
        _VERIFIED_CACHE.write_text(json.dumps(verified))
    except OSError:
        log.debug("could not write %s", _VERIFIED_CACHE)


def locate_file(spec: DatasetSpec, root: Path | None = None, download: bool = True) -> Path:
    """The verified path of a dataset's file, downloading it through medmnist when it is missing."""
    root = Path(root) if root is not None else default_data_root()
    path = root / spec.filename
    if not path.exists() and download:
        _try_download(spec, root)
    if not path.exists():
        raise UserError(
            f"{spec.filename} was not found in {root} and could not be downloaded; "
            f"put the official file there (from {spec.url.split('?')[0]}) or pass --data-root."
        )
    verify_md5(path, spec.md5)
    return path


def _try_download(spec: DatasetSpec, root: Path) -> None:
    try:
        import_torch()
        import medmnist

        root.mkdir(parents=True, exist_ok=True)
        dataset_class = getattr(medmnist, _info()[spec.flag]["python_class"])
        log.info("downloading %s to %s", spec.filename, root)
        dataset_class(split="train", root=str(root), size=spec.size, download=True)
    except Exception as exc:  # noqa: BLE001 - any failure means "no network here"; the caller explains
        log.info("download of %s failed: %s", spec.filename, exc)


def load_medmnist_split(
    spec: DatasetSpec, split: str, root: Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Images (uint8, N x [C x] spatial, as stored) and labels (int64, N x L) of one split."""
    if split not in SPLITS:
        raise UserError(f"Unknown split '{split}'; choose train, val or test.")
    path = locate_file(spec, root)
    try:
        with np.load(path, allow_pickle=False) as archive:
            images = archive[f"{split}_images"]
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{path} is not a readable MedMNIST file ({exc}).") from exc
    return images, load_medmnist_labels(spec, split, root)


def medmnist_image_chunks(spec: DatasetSpec, split: str, root: Path | None = None,
                          chunk_bytes: int = 16 << 20) -> tuple[tuple[int, ...], Iterator[np.ndarray]]:
    """The shape of a split's images and an iterator over them a few rows at a time (uint8, as stored).

    The member is decompressed as it is read, so a split of any size passes through in `chunk_bytes`.
    """
    if split not in SPLITS:
        raise UserError(f"Unknown split '{split}'; choose train, val or test.")
    path = locate_file(spec, root)
    member = f"{split}_images.npy"

    def unreadable(exc: Exception) -> UserError:
        return UserError(f"{path} is not a readable MedMNIST file ({exc}).")

    try:
        with zipfile.ZipFile(path) as archive, archive.open(member) as handle:
            shape, fortran, dtype = read_npy_header(handle)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise unreadable(exc) from exc
    if dtype != np.uint8 or fortran or len(shape) < 2:
        raise UserError(f"{path} is not a MedMNIST file: its {split} images are not uint8 rows.")
    row_bytes = math.prod(shape[1:])

    def chunks() -> Iterator[np.ndarray]:
        rows_per_chunk = max(1, chunk_bytes // row_bytes)
        try:
            with zipfile.ZipFile(path) as archive, archive.open(member) as handle:
                read_npy_header(handle)
                for start in range(0, shape[0], rows_per_chunk):
                    count = min(rows_per_chunk, shape[0] - start)
                    data = handle.read(count * row_bytes)
                    if len(data) != count * row_bytes:
                        raise ValueError(f"{member} ends early")
                    yield np.frombuffer(data, np.uint8).reshape(count, *shape[1:])
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise unreadable(exc) from exc

    return tuple(shape), chunks()


def load_medmnist_labels(spec: DatasetSpec, split: str, root: Path | None = None) -> np.ndarray:
    """Labels (int64, N x L) of one split, without reading its images."""
    if split not in SPLITS:
        raise UserError(f"Unknown split '{split}'; choose train, val or test.")
    path = locate_file(spec, root)
    try:
        with np.load(path, allow_pickle=False) as archive:
            labels = archive[f"{split}_labels"]
    except (OSError, ValueError, KeyError) as exc:
        raise UserError(f"{path} is not a readable MedMNIST file ({exc}).") from exc
    return labels.astype(np.int64).reshape(len(labels), -1)


# -- the files present under a data root ---------------------------------------------------
@dataclass(frozen=True)
class DatasetFile:
    """A dataset that can be browsed and trained on: a MedMNIST file on disk, or a built-in phantom
    (no file: `path` is None, the images are generated)."""

    spec: DatasetSpec
    path: Path | None

    @property
    def title(self) -> str:
        if self.path is None:
            return f"{self.spec.flag} (built in)"
        return self.spec.flag if self.spec.size == 28 else f"{self.spec.flag} ({self.spec.size}px)"

    @property
    def key(self) -> tuple[str, int, Path | None]:
        return self.spec.flag, self.spec.size, self.path

    @property
    def root(self) -> Path | None:
        """The folder to read it from (None for a built-in dataset)."""
        return self.path.parent if self.path is not None else None


def parse_medmnist_filename(path: Path | str) -> tuple[str, int]:
    """'adrenalmnist3d_64.npz' -> ('adrenalmnist3d', 64); 'breastmnist.npz' -> ('breastmnist', 28)."""
    match = _FILENAME.match(Path(path).name)
    if not match:
        raise UserError(f"{Path(path).name} is not named like a MedMNIST file (e.g. breastmnist.npz or organmnist3d_64.npz).")
    return match["flag"], int(match["size"] or 28)


def list_dataset_files(root: Path | str) -> list[DatasetFile]:
    """The MedMNIST files that exist under `root` (nothing is downloaded)."""
    root = Path(root)
    if not root.is_dir():
        return []
    known = set(medmnist_flags())
    found = []
    for path in sorted(root.glob("*.npz")):
        try:
            flag, size = parse_medmnist_filename(path)
            if flag in known:
                found.append(DatasetFile(medmnist_spec(flag, size), path))
        except UserError:
            continue
    return found
