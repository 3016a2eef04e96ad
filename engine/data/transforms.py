"""Image enhancement (deterministic, applied once to a whole split) and augmentation (random, per batch).

Augmentation works on batches of float tensors [B, C, *spatial] in [0, 1] for 2D and 3D alike: one
random affine map per sample (rotation, scale/crop, shift, flips) through `affine_grid`/`grid_sample`,
then intensity jitter. All randomness comes from a `torch.Generator`, so a seed reproduces it. A process
holding only some rows of a batch (data parallel: a `BatchPart`) draws the whole batch's random numbers
and keeps its rows', so every sample is augmented as it would be in one process.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from engine.errors import UserError
from engine.options import ENHANCEMENTS


def enhance(images: np.ndarray, method: str, spatial_dims: int) -> np.ndarray:
    """Contrast enhancement of uint8 images N x [C x] spatial, returning uint8 of the same shape."""
    if method == "none":
        return images
    if method == "equalize":
        return _equalize(images, spatial_dims)
    if method == "clahe":
        return _clahe(images)
    if method == "percentile":
        return _percentile_window(images)
    raise UserError(f"Unknown enhancement '{method}'; choose one of: {', '.join(ENHANCEMENTS)}.")


def _equalize(images: np.ndarray, spatial_dims: int) -> np.ndarray:
    """Histogram equalisation of each image (each channel alike), vectorised over the batch."""
    flat = images.reshape(len(images), -1)
    hist = np.apply_along_axis(np.bincount, 1, flat, minlength=256)
    cdf = hist.cumsum(1).astype(np.float64)
    cdf_min = np.where(hist > 0, cdf, np.inf).min(1, keepdims=True)
    lut = np.clip((cdf - cdf_min) / np.maximum(cdf[:, -1:] - cdf_min, 1) * 255, 0, 255).astype(np.uint8)
    return np.take_along_axis(lut, flat.astype(np.int64), 1).reshape(images.shape)


def _clahe(images: np.ndarray) -> np.ndarray:
    from skimage.exposure import equalize_adapthist

    out = [equalize_adapthist(image, clip_limit=0.02) for image in images]
    return (np.stack(out) * 255).round().astype(np.uint8)


def _percentile_window(images: np.ndarray, low: float = 1.0, high: float = 99.0) -> np.ndarray:
    """Clip each volume to its own 1st..99th percentile and stretch to 0..255 (for 3D)."""
    flat = images.reshape(len(images), -1).astype(np.float32)
    lo, hi = np.percentile(flat, [low, high], axis=1, keepdims=True)
    scaled = (flat - lo) / np.maximum(hi - lo, 1e-6)
    return (np.clip(scaled, 0, 1) * 255).round().astype(np.uint8).reshape(images.shape)


@dataclass(frozen=True)
class BatchPart:
    """Rows [start, stop) of a batch of `total` samples: the share of one data-parallel process."""

    start: int
    stop: int
    total: int

    @staticmethod
    def whole(size: int) -> "BatchPart":
        return BatchPart(0, size, size)

    @property
    def rows(self) -> slice:
        return slice(self.start, self.stop)

    def __len__(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class AugmentConfig:
    """Strengths of the random augmentations; `AugmentConfig.off()` disables them all."""

    flip: bool = True
    rotate_degrees: float = 15.0
    scale: tuple[float, float] = (0.85, 1.15)  # random resized crop as a zoom in/out
    translate: float = 0.08  # fraction of the image
    brightness: float = 0.1
    contrast: float = 0.15

    @staticmethod
    def off() -> "AugmentConfig":
        return AugmentConfig(False, 0.0, (1.0, 1.0), 0.0, 0.0, 0.0)

    def to_dict(self) -> dict:
        return asdict(self)


    def scaled(self, strength: float) -> "AugmentConfig":
        """Every random range times `strength` (0: no change but flips; 1: these ranges)."""
        if strength == 1.0:
            return self
        low, high = self.scale
        return AugmentConfig(self.flip, self.rotate_degrees * strength,
                             (1 - (1 - low) * strength, 1 + (high - 1) * strength),
                             self.translate * strength, self.brightness * strength, self.contrast * strength)


def augmentation_for(label_names: list[str] | dict, enabled: bool = True, strength: float = 1.0) -> AugmentConfig:
    """The default augmentation for a dataset, its ranges times `strength`; no flips where a label
    names a side of the body.

    OrganAMNIST tells kidney-left from kidney-right: a mirrored image would carry the wrong label.
    """
    if not enabled:
        return AugmentConfig.off()
    names = label_names.values() if isinstance(label_names, dict) else label_names
    lateral = any(word in name.lower() for name in names for word in ("left", "right"))
    return AugmentConfig(flip=not lateral).scaled(strength)


@dataclass(frozen=True)
class TtaView:
    """One view averaged at test time: the image mirrored along the `flip` dims, then moved one pixel
    along `shift` = (axis, +1 or -1) with its edge repeated (no shift: None)."""

    flip: tuple[int, ...] = ()
    shift: tuple[int, int] | None = None

    def apply(self, images: torch.Tensor) -> torch.Tensor:
        """The view of images [..., *spatial] (a batch or one sample; the axes are counted from the end)."""
        view = images.flip(self.flip) if self.flip else images
        if self.shift is None:
            return view
        axis, offset = self.shift
        size = view.shape[axis]
        source = (torch.arange(size, device=view.device) - offset).clamp(0, size - 1)
        return view.index_select(axis % view.ndim, source)


def tta_views(label_names: list[str] | dict, tta: str, spatial_dims: int) -> list[TtaView]:
    """The views whose outputs are averaged at test time: the image itself; under `tta="flip"` also its
    mirror image (last axis) where mirroring keeps the label (see `augmentation_for`); under
    `tta="flip-shift"` each of those also moved one pixel either way along every spatial axis (a shift keeps
    every label, sides of the body included)."""
    if tta == "none":
        return [TtaView()]
    mirrors = [(), (-1,)] if augmentation_for(label_names).flip else [()]
    moves = [None]
    if tta == "flip-shift":
        moves += [(-axis, offset) for axis in range(1, spatial_dims + 1) for offset in (1, -1)]
    return [TtaView(flip, move) for flip in mirrors for move in moves]


def _uniform(shape: tuple[int, ...], low: float, high: float, gen: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(shape, generator=gen)


def _rotation(angles: torch.Tensor, spatial_dims: int, gen: torch.Generator) -> torch.Tensor:
    """Rotation matrices [B, d, d]: in-plane for 2D, about a random axis for 3D."""
    cos, sin = torch.cos(angles), torch.sin(angles)
    if spatial_dims == 2:
        return torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    axis = F.normalize(torch.randn(len(angles), 3, generator=gen), dim=1)
    skew = torch.zeros(len(angles), 3, 3)
    skew[:, 0, 1], skew[:, 0, 2], skew[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    skew = skew - skew.transpose(1, 2)
    eye = torch.eye(3).expand_as(skew)
    return eye + sin[:, None, None] * skew + (1 - cos)[:, None, None] * (skew @ skew)


def random_affine(batch: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator,
                  part: BatchPart | None = None) -> torch.Tensor:
    """One random rotation/zoom/shift/flip per sample, resampled bilinearly (zeros outside)."""
    part = part or BatchPart.whole(len(batch))
    b, dims = part.total, batch.ndim - 2
    angles = _uniform((b,), -1, 1, gen) * math.radians(cfg.rotate_degrees)
    matrix = _rotation(angles, dims, gen) / _uniform((b, 1, 1), *cfg.scale, gen)
    if cfg.flip:
        signs = torch.where(torch.rand(b, dims, generator=gen) < 0.5, -1.0, 1.0)
        matrix = matrix * signs[:, None, :]
    shift = _uniform((b, dims, 1), -1, 1, gen) * 2 * cfg.translate
    theta = torch.cat([matrix, shift], dim=2)[part.rows].to(batch)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def intensity_jitter(batch: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator,
                     part: BatchPart | None = None) -> torch.Tensor:
    part = part or BatchPart.whole(len(batch))
    shape = (part.total,) + (1,) * (batch.ndim - 1)
    contrast = _uniform(shape, 1 - cfg.contrast, 1 + cfg.contrast, gen)[part.rows].to(batch)
    brightness = _uniform(shape, -cfg.brightness, cfg.brightness, gen)[part.rows].to(batch)
    mean = batch.mean(dim=tuple(range(1, batch.ndim)), keepdim=True)
    return ((batch - mean) * contrast + mean + brightness).clamp(0, 1)


def augment(batch: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator,
            part: BatchPart | None = None) -> torch.Tensor:
    """Random augmentation of a batch [B, C, *spatial] in [0, 1], reproducible from `gen`'s seed.

    With `part`, `batch` holds only those rows of a larger batch (see `BatchPart`).
    """
    if cfg == AugmentConfig.off():
        return batch
    return intensity_jitter(random_affine(batch, cfg, gen, part), cfg, gen, part)
