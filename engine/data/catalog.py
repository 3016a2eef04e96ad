"""One entry point for every dataset the engine knows: the MedMNIST flags and the built-in phantoms."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from engine.data.medmnist import (
    SIZES_2D, SIZES_3D, DatasetFile, list_dataset_files, load_medmnist_labels, load_medmnist_split, medmnist_flags,
    medmnist_image_chunks, medmnist_spec,
)
from engine.data.phantom import make_phantom_split, phantom_spec
from engine.data.spec import DatasetSpec

PHANTOM_FLAGS = {"phantom2d": 2, "phantom3d": 3}


def list_datasets() -> list[str]:
    return medmnist_flags() + list(PHANTOM_FLAGS)


def get_spec(flag: str, size: int = 28) -> DatasetSpec:
    if flag in PHANTOM_FLAGS:
        return phantom_spec(PHANTOM_FLAGS[flag], size)
    return medmnist_spec(flag, size)


def available_sizes(flag: str) -> tuple[int, ...]:
    """The sizes a dataset comes in (the phantoms are made at 28 pixels)."""
    if flag in PHANTOM_FLAGS:
        return (28,)
    return SIZES_3D if get_spec(flag).spatial_dims == 3 else SIZES_2D


def available_datasets(root: Path | str) -> list[DatasetFile]:
    """What can be browsed and trained on here: the MedMNIST files under `root`, then the built-in
    phantoms (so a first-time user with no files has data to try)."""
    built_in = [DatasetFile(phantom_spec(dims), None) for dims in PHANTOM_FLAGS.values()]
    return list_dataset_files(root) + built_in


def load_split(spec: DatasetSpec, split: str, root: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images as stored (uint8) and labels (int64, N x L) of one split."""
    if spec.flag in PHANTOM_FLAGS:
        return make_phantom_split(spec, split)
    return load_medmnist_split(spec, split, root)


def split_image_chunks(spec: DatasetSpec, split: str, root: Path | None = None
                       ) -> tuple[tuple[int, ...], Iterator[np.ndarray]]:
    """The shape of a split's stored images (uint8) and an iterator over them, a few rows at a time."""
    if spec.flag in PHANTOM_FLAGS:
        images, _labels = make_phantom_split(spec, split)
        return images.shape, iter([images])
    return medmnist_image_chunks(spec, split, root)


def load_split_labels(spec: DatasetSpec, split: str, root: Path | None = None) -> np.ndarray:
    """Labels (int64, N x L) of one split."""
    if spec.flag in PHANTOM_FLAGS:
        return make_phantom_split(spec, split)[1]
    return load_medmnist_labels(spec, split, root)


def channels_first(images: np.ndarray, spec: DatasetSpec) -> np.ndarray:
    """N x spatial (grey) or N x spatial x 3 (colour) to N x C x spatial, keeping the dtype."""
    if images.ndim == spec.spatial_dims + 1:
        return images[:, None]
    return np.moveaxis(images, -1, 1)
