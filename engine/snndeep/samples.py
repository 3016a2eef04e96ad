"""Samples for the study: axial liver slices (or 2.5D slabs, or CT feature vectors) with patient ids.

Two sources: an MSD liver task folder (label = lesion present in the slice) and OrganAMNIST
(label = liver versus the other ten organs).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from skimage.transform import resize
from tqdm import tqdm

from engine.snndeep.config import SampleConfig
from engine.snndeep.features import FEATURE_NAMES, slice_features
from engine.snndeep.msd import TUMOUR, CaseVolume, MSDTask

log = logging.getLogger(__name__)


@dataclass
class SampleSet:
    """Flat samples in [0, 1] (N x D), binary labels (N) and the patient (group) of each sample."""

    name: str
    x: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    feature_names: list[str] = field(default_factory=list)
    official_split: np.ndarray | None = None  # OrganAMNIST: train / val / test, patient-disjoint upstream

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, index: np.ndarray) -> "SampleSet":
        split = None if self.official_split is None else self.official_split[index]
        return SampleSet(self.name, self.x[index], self.y[index], self.groups[index], self.feature_names, split)


def hu_window(ct: np.ndarray, level: float, width: float) -> np.ndarray:
    low = level - width / 2
    return np.clip((ct - low) / width, 0.0, 1.0).astype(np.float32)


def liver_crop_box(mask: np.ndarray, margin: float = 0.1) -> tuple[slice, slice]:
    """A square box around the liver mask (plus a margin), clipped to the slice."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    centre = ((rows[0] + rows[-1]) / 2, (cols[0] + cols[-1]) / 2)
    half = max(rows[-1] - rows[0], cols[-1] - cols[0]) * (0.5 + margin) + 1
    def span(c: float, n: int) -> slice:
        lo = int(max(0, np.floor(c - half)))
        return slice(lo, int(min(n, np.ceil(c + half) + 1)))
    return span(centre[0], mask.shape[0]), span(centre[1], mask.shape[1])


def _slab_indices(z: int, depth: int, slab: int) -> list[int]:
    return [min(max(z + k, 0), depth - 1) for k in range(-slab, slab + 1)]


def case_samples(volume: CaseVolume, cfg: SampleConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Samples (N x D) and lesion labels (N) from the liver slices of one case."""
    window = hu_window(volume.ct, cfg.hu_level, cfg.hu_width)
    liver_mask = volume.labels > 0
    depth = window.shape[2]
    z_used = np.flatnonzero(liver_mask.sum(axis=(0, 1)) >= cfg.min_liver_voxels)
    if cfg.max_slices_per_case and len(z_used) > cfg.max_slices_per_case:
        z_used = np.sort(rng.choice(z_used, cfg.max_slices_per_case, replace=False))
    xs, ys = [], []
    for z in z_used:
        mask = liver_mask[:, :, z]
        tumour = int((volume.labels[:, :, z] == TUMOUR).sum())
        ys.append(int(tumour > cfg.min_tumour_voxels))
        if cfg.mode == "features":
            xs.append(slice_features(window[:, :, z], mask))
            continue
        box = liver_crop_box(mask) if cfg.crop_to_liver else (slice(None), slice(None))
        channels = [window[box[0], box[1], k] for k in _slab_indices(int(z), depth, cfg.slab)]
        stacked = np.stack([resize(c, (cfg.size, cfg.size), order=1, anti_aliasing=True) for c in channels])
        xs.append(stacked.reshape(-1).astype(np.float32))
    return np.asarray(xs, np.float32), np.asarray(ys, np.int64)


def msd_samples(root: Path, cfg: SampleConfig, seed: int = 0) -> SampleSet:
    """All samples of an MSD liver task, read one case at a time."""
    task = MSDTask(root)
    rng = np.random.default_rng(seed)
    xs, ys, groups = [], [], []
    for volume in tqdm(task.iter_volumes(cfg.min_liver_voxels), total=len(task.cases), desc="MSD cases", leave=False):
        x, y = case_samples(volume, cfg, rng)
        if len(y) == 0:
            continue
        xs.append(x)
        ys.append(y)
        groups.append(np.full(len(y), volume.case_id))
    names = list(FEATURE_NAMES) if cfg.mode == "features" else []
    set_ = SampleSet(f"msd:{Path(root).name}:{cfg.mode}", np.concatenate(xs), np.concatenate(ys), np.concatenate(groups), names)
    log.info("%s: %d samples from %d patients, %d with lesion", set_.name, len(set_), len(xs), int(set_.y.sum()))
    return set_


def organamnist_samples(root: Path | None, cfg: SampleConfig, max_per_split: dict[str, int], seed: int = 0) -> SampleSet:
    """OrganAMNIST as liver (1) versus the other organs (0); each official split stays whole or subsampled."""
    from engine.data.catalog import get_spec, load_split

    spec = get_spec("organamnist")
    liver = next(k for k, v in spec.labels.items() if v == "liver")
    rng = np.random.default_rng(seed)
    xs, ys, splits = [], [], []
    for split in ("train", "val", "test"):
        images, labels = load_split(spec, split, root)
        keep = np.arange(len(labels))
        limit = max_per_split.get(split, 0)
        if limit and len(keep) > limit:
            keep = np.sort(rng.choice(keep, limit, replace=False))
        images = images[keep].astype(np.float32) / 255.0
        if cfg.mode == "features":
            images = np.stack([slice_features(img) for img in tqdm(images, desc=f"features {split}", leave=False)])
        xs.append(images.reshape(len(keep), -1))
        ys.append((labels[keep, 0] == liver).astype(np.int64))
        splits.append(np.full(len(keep), split))
    split_names = np.concatenate(splits)
    names = list(FEATURE_NAMES) if cfg.mode == "features" else []
    return SampleSet(f"organamnist:liver-vs-rest:{cfg.mode}", np.concatenate(xs), np.concatenate(ys), split_names.copy(), names, split_names)


def minmax_scale(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Scale features to [0, 1] with the training part's range (clipped), as encoders need."""
    low, high = train.min(axis=0), train.max(axis=0)
    scale = np.where(high > low, high - low, 1.0)
    return [np.clip((a - low) / scale, 0.0, 1.0).astype(np.float32) for a in (train, *others)]
