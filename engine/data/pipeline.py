"""From stored images to model inputs, the same way in training, evaluation and inference.

A `Preprocessing` (saved in every run's config) says how: enhancement, input size, channels.
Training and evaluation never hold a float copy of a split: its images are prepared once (channels
first, enhanced, uint8) into a file in the cache folder and read a batch at a time (`FileRows`), and
each batch becomes floats on the fly. Where no cache can be written, the prepared uint8 split stays in
memory (`ArrayRows`). Either way the split passes through in chunks of a few megabytes.
"""
from __future__ import annotations

import logging
import math
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engine.data.catalog import PHANTOM_FLAGS, channels_first, load_split_labels, split_image_chunks
from engine.data.npy_files import write_npy_rows
from engine.data.rows import ArrayRows, FileRows
from engine.data.spec import DatasetSpec
from engine.data.transforms import enhance
from engine.errors import UserError

log = logging.getLogger(__name__)
CACHE_LAYOUT = 1  # bump when the prepared files change meaning
SPARE_DISK_BYTES = 1 << 30  # leave this much free disk after writing a prepared split


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
    """One split: uint8 image rows [N, C, *spatial] (`rows[index]` is a tensor) and int64 labels [N, L]."""

    images: ArrayRows | FileRows
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def window(self, start: int, stop: int) -> "SplitTensors":
        """Samples start..stop, read from the same place (no copy)."""
        return SplitTensors(self.images.window(start, stop), self.labels[start:stop])


def cache_dir() -> Path:
    """Where prepared splits are kept: `$SPIKEVIEW_CACHE`, else ~/.cache/spikeview (safe to delete)."""
    env = os.environ.get("SPIKEVIEW_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "spikeview"


def prepared_path(spec: DatasetSpec, split: str, prep: Preprocessing) -> Path:
    """The prepared file of a split; its name holds what it depends on (the official file's md5)."""
    return (cache_dir() / "splits" / f"{spec.flag}_{spec.size}"
            / f"{split}_{prep.enhance}_{spec.md5[:12]}_v{CACHE_LAYOUT}.npy")


def _prepared_chunks(spec: DatasetSpec, split: str, prep: Preprocessing, root: Path | None
                     ) -> tuple[tuple[int, ...], Iterator[np.ndarray]]:
    """The shape of the prepared split [N, C, *spatial] and its rows, enhanced chunk by chunk.

    Every enhancement works on each image alone, so chunks give the same pixels as the whole split.
    """
    shape, chunks = split_image_chunks(spec, split, root)
    stored = (spec.size,) * spec.spatial_dims + ((spec.n_channels,) if spec.n_channels > 1 else ())
    if tuple(shape[1:]) != stored:
        raise UserError(f"{spec.filename}: its {split} images have shape {tuple(shape[1:])}, "
                        f"not {stored} as a {spec.size}-pixel {spec.flag} file has.")
    return (shape[0], *spec.input_shape), (channels_first(enhance(chunk, prep.enhance, spec.spatial_dims), spec) for chunk in chunks)


def _in_memory(shape: tuple[int, ...], chunks: Iterator[np.ndarray]) -> ArrayRows:
    array = np.empty(shape, np.uint8)
    start = 0
    for chunk in chunks:
        array[start:start + len(chunk)] = chunk
        start += len(chunk)
    return ArrayRows(array)


def _cached_file(spec: DatasetSpec, split: str, prep: Preprocessing, root: Path | None) -> FileRows | None:
    """The split's prepared file, written first if needed; None where the cache folder cannot hold it."""
    path = prepared_path(spec, split, prep)
    if path.exists():
        try:
            rows = FileRows(path)
            if path.stat().st_size == rows.offset + math.prod(rows.shape):
                return rows
        except (OSError, ValueError):
            pass
        log.warning("rebuilding the damaged prepared split %s", path)
    shape, chunks = _prepared_chunks(spec, split, prep, root)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if shutil.disk_usage(path.parent).free < math.prod(shape) + SPARE_DISK_BYTES:
            log.warning("not enough free disk in %s for %s %s: keeping it in memory", path.parent, spec.flag, split)
            return None
        log.info("preparing %s %s in %s", spec.flag, split, path)
        write_npy_rows(path, shape, chunks)
        return FileRows(path)
    except OSError as exc:
        log.warning("cannot write the prepared split %s (%s): keeping it in memory", path, exc)
        return None


def load_split_tensors(spec: DatasetSpec, split: str, prep: Preprocessing,
                       root: Path | None = None) -> SplitTensors:
    """A split ready for training and evaluation: prepared uint8 rows, read a batch at a time."""
    labels = torch.from_numpy(load_split_labels(spec, split, root))
    rows = None if spec.flag in PHANTOM_FLAGS else _cached_file(spec, split, prep, root)
    if rows is None:
        rows = _in_memory(*_prepared_chunks(spec, split, prep, root))
    if len(rows) != len(labels):
        raise UserError(f"{spec.filename} has {len(rows)} {split} images but {len(labels)} labels.")
    return SplitTensors(rows, labels)


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
