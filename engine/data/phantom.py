"""A procedural phantom dataset, 2D and 3D, so that everything runs with no files and no network.

Each sample is a noisy organ-like ellipse (or ellipsoid) on a darker body; class 1 adds a dark
(hypodense) lesion inside the organ and class 2 a bright (hyperdense) one. Generation is
deterministic for a given seed, split and size.
"""
from __future__ import annotations

import numpy as np

from engine.data.spec import DatasetSpec

PHANTOM_LABELS = {0: "no lesion", 1: "hypodense lesion", 2: "hyperdense lesion"}
PHANTOM_SPLIT_SIZES = {"train": 600, "val": 150, "test": 150}
_SPLIT_SEEDS = {"train": 0, "val": 1, "test": 2}


def phantom_spec(spatial_dims: int, size: int = 28) -> DatasetSpec:
    n_samples = dict(PHANTOM_SPLIT_SIZES)
    if spatial_dims == 3:
        n_samples = {k: v // 2 for k, v in n_samples.items()}
    return DatasetSpec(
        flag=f"phantom{spatial_dims}d",
        size=size,
        task="multi-class",
        n_channels=1,
        labels=dict(PHANTOM_LABELS),
        spatial_dims=spatial_dims,
        n_samples=n_samples,
    )


def _grid(size: int, spatial_dims: int) -> list[np.ndarray]:
    axis = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    return np.meshgrid(*([axis] * spatial_dims), indexing="ij")


def _ellipsoid(grid: list[np.ndarray], centre: np.ndarray, radii: np.ndarray) -> np.ndarray:
    return sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii)) <= 1.0


def _sample(rng: np.random.Generator, grid: list[np.ndarray], label: int) -> np.ndarray:
    dims = len(grid)
    body = _ellipsoid(grid, np.zeros(dims), np.full(dims, 0.95))
    organ_centre = rng.uniform(-0.15, 0.15, dims)
    organ_radii = rng.uniform(0.45, 0.65, dims)
    organ = _ellipsoid(grid, organ_centre, organ_radii)
    image = np.where(body, 0.3, 0.0) + np.where(organ, 0.25, 0.0)
    if label:
        offset = rng.uniform(-0.4, 0.4, dims) * organ_radii
        lesion = _ellipsoid(grid, organ_centre + offset, rng.uniform(0.12, 0.22, dims)) & organ
        image = np.where(lesion, 0.3 if label == 1 else 0.85, image)
    image = image + rng.normal(0.0, 0.06, image.shape)
    return (np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)


def phantom_image(spatial_dims: int, size: int, label: int, seed: int = 0) -> np.ndarray:
    """One phantom image (uint8) of the given class, e.g. a larger sample scan for first-time users."""
    rng = np.random.default_rng([seed, size, spatial_dims, label])
    return _sample(rng, _grid(size, spatial_dims), label)


def make_phantom_split(spec: DatasetSpec, split: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images (uint8, N x spatial) and labels (int64, N x 1) of one split, the same on every call."""
    rng = np.random.default_rng([seed, _SPLIT_SEEDS[split], spec.size, spec.spatial_dims])
    grid = _grid(spec.size, spec.spatial_dims)
    count = spec.n_samples[split]
    labels = np.arange(count) % spec.num_classes
    rng.shuffle(labels)
    images = np.stack([_sample(rng, grid, int(label)) for label in labels])
    return images, labels.astype(np.int64).reshape(-1, 1)
