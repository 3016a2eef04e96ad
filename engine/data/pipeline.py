"""From stored images to model inputs, the same way in training, evaluation and inference.

A `Preprocessing` (saved in every run's config) says how: enhancement, input size, channels.
Training keeps whole splits in memory as uint8 tensors and turns batches into floats on the fly.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engine.data.catalog import channels_first, load_split
from engine.data.medmnist_data import DatasetSpec
from engine.data.transforms import enhance
from engine.errors import UserError


@dataclass(frozen=True)
class Preprocessing:
    spatial_dims: int
    input_size: int
    n_channels: int
    enhance: str = "none"

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def for_dataset(spec: DatasetSpec, enhance: str = "none") -> "Preprocessing":
        return Preprocessing(spec.spatial_dims, spec.size, spec.n_channels, enhance)


@dataclass
class SplitTensors:
    """One split in memory: uint8 images [N, C, *spatial] and int64 labels [N, L]."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


def load_split_tensors(spec: DatasetSpec, split: str, prep: Preprocessing,
                       root: Path | None = None) -> SplitTensors:
    images, labels = load_split(spec, split, root)
    images = channels_first(enhance(images, prep.enhance, spec.spatial_dims), spec)
    return SplitTensors(torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels))


def to_unit_float(images_uint8: torch.Tensor) -> torch.Tensor:
    return images_uint8.float().div_(255.0)


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """Any intensity range to uint8 by the 0.5..99.5 percentile window (uint8 is kept as it is)."""
    if array.dtype == np.uint8:
        return array
    values = array.astype(np.float32)
    if not np.isfinite(values).all():
        raise UserError("The input contains NaN or infinite values, so it cannot be classified.")
    lo, hi = np.percentile(values, [0.5, 99.5])
    return (np.clip((values - lo) / max(hi - lo, 1e-6), 0, 1) * 255).round().astype(np.uint8)


def prepare_array(array: np.ndarray, prep: Preprocessing) -> torch.Tensor:
    """An arbitrary image or volume → one model input [C, *spatial] in [0, 1], as in training.

    Accepts spatial (grey), spatial x 3 (colour), or C x spatial arrays. A 3D volume given to a
    2D model is reduced to its middle slice along the last axis.
    """
    array = np.asarray(array)
    if prep.spatial_dims == 2 and array.ndim == 3 and array.shape[-1] not in (1, 3) and array.shape[0] not in (1, 3):
        array = array[..., array.shape[-1] // 2]
    if array.ndim == prep.spatial_dims:
        array = array[None]
    elif array.ndim == prep.spatial_dims + 1 and array.shape[-1] in (1, 3) and array.shape[0] not in (1, 3):
        array = np.moveaxis(array, -1, 0)
    if array.ndim != prep.spatial_dims + 1:
        raise UserError(
            f"The model expects a {prep.spatial_dims}D image, but the input has shape {tuple(array.shape)}."
        )
    image = _to_uint8(array)
    tensor = torch.from_numpy(image.astype(np.float32)).unsqueeze(0)  # [1, C, *spatial], a copy
    mode = "bilinear" if prep.spatial_dims == 2 else "trilinear"
    tensor = F.interpolate(tensor, size=(prep.input_size,) * prep.spatial_dims, mode=mode, align_corners=False)
    tensor = _match_channels(tensor, prep.n_channels)
    resized = tensor.round().clamp(0, 255).to(torch.uint8).numpy()
    enhanced = enhance(resized[:, 0] if prep.n_channels == 1 else np.moveaxis(resized, 1, -1),
                       prep.enhance, prep.spatial_dims)
    if prep.n_channels != 1:
        enhanced = np.moveaxis(enhanced, -1, 1)
    else:
        enhanced = enhanced[:, None]
    return to_unit_float(torch.from_numpy(np.ascontiguousarray(enhanced)))[0]


def _match_channels(tensor: torch.Tensor, channels: int) -> torch.Tensor:
    if tensor.shape[1] == channels:
        return tensor
    if channels == 3 and tensor.shape[1] == 1:
        return tensor.expand(-1, 3, *tensor.shape[2:])
    if channels == 1:
        return tensor.mean(1, keepdim=True)
    raise UserError(f"The model expects {channels} channels, but the input has {tensor.shape[1]}.")
