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
from engine.data.spec import DatasetSpec
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


@dataclass
class PreparedInput:
    """One model input and how its intensities and channels were made."""

    tensor: torch.Tensor  # [C, *spatial] in [0, 1]
    window: tuple[float, float] | None  # the input values mapped to 0 and 1; None: uint8 taken as stored
    channels: str  # in words: "grey", "grey copied into 3 channels", "colour averaged to grey", ...


def _to_uint8(array: np.ndarray) -> tuple[np.ndarray, tuple[float, float] | None]:
    """Any intensity range to uint8 by the 0.5..99.5 percentile window (uint8 is kept as it is)."""
    if array.dtype == np.uint8:
        return array, None
    values = array.astype(np.float32)
    if not np.isfinite(values).all():
        raise UserError("The input contains NaN or infinite values, so it cannot be classified.")
    lo, hi = (float(v) for v in np.percentile(values, [0.5, 99.5]))
    return (np.clip((values - lo) / max(hi - lo, 1e-6), 0, 1) * 255).round().astype(np.uint8), (lo, hi)


def prepare_input(array: np.ndarray, prep: Preprocessing) -> PreparedInput:
    """An image (2D model) or volume (3D model) → one model input [C, *spatial] in [0, 1], as in training.

    Accepts spatial (grey), spatial x C or C x spatial arrays (C = 1 or 3). Which slice of a 3D scan a
    2D model sees is chosen before (`engine.probe.model_input`).
    """
    image, window = _to_uint8(_as_channels_first(np.asarray(array), prep.spatial_dims))
    tensor = torch.from_numpy(image.astype(np.float32)).unsqueeze(0)  # [1, C, *spatial], a copy
    mode = "bilinear" if prep.spatial_dims == 2 else "trilinear"
    tensor = F.interpolate(tensor, size=(prep.input_size,) * prep.spatial_dims, mode=mode, align_corners=False)
    resized = _match_channels(tensor, prep.n_channels).round().clamp(0, 255).to(torch.uint8).numpy()
    enhanced = _enhance_channels_first(resized, prep.enhance, prep.spatial_dims)
    return PreparedInput(to_unit_float(torch.from_numpy(np.ascontiguousarray(enhanced)))[0], window,
                         _channels_in_words(image.shape[0], prep.n_channels))


def prepare_array(array: np.ndarray, prep: Preprocessing) -> torch.Tensor:
    """`prepare_input`'s tensor alone."""
    return prepare_input(array, prep).tensor


def _is_channel_axis(size: int) -> bool:
    return size in (1, 3)


def _as_channels_first(array: np.ndarray, spatial_dims: int) -> np.ndarray:
    if array.ndim == spatial_dims:
        return array[None]
    if array.ndim == spatial_dims + 1 and _is_channel_axis(array.shape[-1]) and not _is_channel_axis(array.shape[0]):
        return np.moveaxis(array, -1, 0)
    if array.ndim != spatial_dims + 1 or not _is_channel_axis(array.shape[0]):
        raise UserError(f"The model expects a {spatial_dims}D image, but the input has shape {tuple(array.shape)}.")
    return array


def _channels_in_words(given: int, wanted: int) -> str:
    if given == wanted:
        return "grey" if given == 1 else "colour"
    return "grey copied into 3 channels" if given == 1 else "colour averaged to grey"


def _enhance_channels_first(batch: np.ndarray, method: str, spatial_dims: int) -> np.ndarray:
    """`enhance` on [N, C, *spatial], through the stored layout it takes (grey: no C; colour: C last)."""
    if batch.shape[1] == 1:
        return enhance(batch[:, 0], method, spatial_dims)[:, None]
    return np.moveaxis(enhance(np.moveaxis(batch, 1, -1), method, spatial_dims), -1, 1)


def _match_channels(tensor: torch.Tensor, channels: int) -> torch.Tensor:
    if tensor.shape[1] == channels:
        return tensor
    if channels == 3 and tensor.shape[1] == 1:
        return tensor.expand(-1, 3, *tensor.shape[2:])
    if channels == 1:
        return tensor.mean(1, keepdim=True)
    raise UserError(f"The model expects {channels} channels, but the input has {tensor.shape[1]}.")
