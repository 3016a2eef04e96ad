"""The exact input a model sees, made from a scan, and how it was made (`InputProvenance`).

A 2D model on a 3D scan sees one slice, cut in a plane and shown as the slice views show it (screen
order, radiological convention): the plane and slice the user chose, or else the middle slice of the
plane its dataset was cut in (axial when it has none), which `engine.probe.domain` flags. A 3D model
sees the whole volume as a stack of axial slices (the MedMNIST 3D layout). Then the run's own
preprocessing: intensity window, resampling to the model's size, channels, enhancement.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from engine.data.pipeline import Preprocessing, prepare_input
from engine.errors import UserError
from engine.io.volume import AXIAL, VIEW_AXES, Volume, volume_layout_to_slices

PLANES = tuple(VIEW_AXES)  # sagittal, coronal, axial


@dataclass
class InputProvenance:
    """How a model input was made from its source."""

    source: str  # the scan's name, or "breastmnist test #3"
    modality: str  # the source's DICOM modality code ("" or "OT": unknown)
    source_shape: tuple[int, ...]  # spatial shape of the scan
    plane: str | None  # the plane a 2D model's slice was cut in; None: a 2D image or a whole volume
    plane_chosen: bool  # False when a 2D model got a 3D scan and nobody chose the plane
    slice_index: int | None
    slice_count: int | None
    taken_shape: tuple[int, ...]  # the image or volume before resampling
    taken_extent_mm: tuple[float, ...]  # its physical size
    resampled_to: tuple[int, ...]
    window: tuple[float, float] | None  # scan values mapped to black and white; None: uint8 taken as stored
    channels: str
    enhance: str

    @property
    def whole_volume(self) -> bool:
        return len(self.taken_shape) == 3

    @property
    def stretch(self) -> float:
        """How much the resampling changed the shape's proportions (1: not at all)."""
        extent = [e for e in self.taken_extent_mm if e > 0]
        return max(extent) / min(extent) if extent else 1.0

    def describe(self) -> str:
        """One line: "axial slice 29 of 58 of CT_pitch (248 x 175), resampled to 28 x 28, window 3 .. 187"."""
        shape = " x ".join(map(str, self.taken_shape))
        if self.plane is not None:
            chosen = "" if self.plane_chosen else " (no plane chosen)"
            what = f"{self.plane} slice {self.slice_index} of {self.slice_count}{chosen} of {self.source} ({shape})"
        elif self.whole_volume:
            what = f"the whole volume {self.source} ({shape})"
        else:
            what = f"the image {self.source} ({shape})"
        window = ("intensities as stored (0 .. 255)" if self.window is None
                  else f"window {self.window[0]:.4g} .. {self.window[1]:.4g} (0.5-99.5th percentile)")
        enhance = "" if self.enhance == "none" else f", {self.enhance} enhancement"
        return (f"{what}, resampled to {' x '.join(map(str, self.resampled_to))}, {window}, "
                f"{self.channels}{enhance}")

    def to_dict(self) -> dict:
        return {**asdict(self), "whole_volume": self.whole_volume, "description": self.describe()}


def check_plane_choice(plane: str | None, slice_index: int | None) -> None:
    if plane is not None and plane not in PLANES:
        raise UserError(f"--plane must be one of {', '.join(PLANES)}, not '{plane}'.")
    if slice_index is not None and plane is None:
        raise UserError("--slice needs --plane, the plane to cut the slice in (axial, coronal or sagittal).")


def make_model_input(volume: Volume, prep: Preprocessing, plane: str | None = None, slice_index: int | None = None,
                     default_plane: str | None = None) -> tuple[torch.Tensor, InputProvenance]:
    """The model input [C, *spatial] in [0, 1] made from `volume`, and how it was made."""
    check_plane_choice(plane, slice_index)
    cut = None
    if prep.spatial_dims == 2 and not volume.is_2d:
        cut = plane or default_plane or AXIAL
        image, index, count = _slice(volume, cut, slice_index)
        extent = tuple(n * mm for n, mm in zip(image.shape[1::-1], volume.display_pixel_size(cut)))[::-1]
    else:
        _check_dimensions(volume, prep, plane)
        image, index, count = _as_stored(volume), None, None
        spacing = volume.spacing if volume.is_2d else volume.spacing[::-1]  # stored order: slices, rows, columns
        extent = tuple(n * mm for n, mm in zip(image.shape, spacing))
    prepared = prepare_input(image, prep)
    provenance = InputProvenance(
        source=volume.name or "array", modality=volume.modality, source_shape=tuple(volume.spatial_shape),
        plane=cut, plane_chosen=plane is not None, slice_index=index, slice_count=count,
        taken_shape=tuple(image.shape[:prep.spatial_dims]), taken_extent_mm=tuple(round(e, 3) for e in extent),
        resampled_to=(prep.input_size,) * prep.spatial_dims, window=prepared.window, channels=prepared.channels,
        enhance=prep.enhance)
    return prepared.tensor, provenance


def _slice(volume: Volume, plane: str, index: int | None) -> tuple[np.ndarray, int, int]:
    count = volume.spatial_shape[VIEW_AXES[plane]]
    index = count // 2 if index is None else index
    if not 0 <= index < count:
        raise UserError(f"Slice {index} is outside {volume.name or 'the scan'}: its {plane} slices are numbered "
                        f"0 to {count - 1}.")
    return volume.display_slice(plane, index), index, count


def _check_dimensions(volume: Volume, prep: Preprocessing, plane: str | None) -> None:
    name = volume.name or "the input"
    if prep.spatial_dims == 3 and volume.is_2d:
        raise UserError(f"This run's model takes 3D volumes, but {name} is a 2D image.")
    if plane is not None:
        kind = "whole volumes" if prep.spatial_dims == 3 else "2D images"
        raise UserError(f"--plane and --slice choose a slice of a 3D scan for a 2D model; here the model and "
                        f"{name} are both {kind}.")


def _as_stored(volume: Volume) -> np.ndarray:
    """A 2D image as it is; a volume as a stack of axial slices (slices x rows x columns)."""
    return np.asarray(volume.array) if volume.is_2d else volume_layout_to_slices(np.asarray(volume.array))
