"""`Volume`: one scan in memory, in one canonical orientation.

Conventions (every loader produces them):
- 3D scans: `array[i, j, k]` in RAS+ voxel order: i runs Left -> Right, j Posterior -> Anterior,
  k Inferior -> Superior (nibabel's nearest-axis reorientation; an oblique acquisition keeps its
  rotation in `affine`, the axes are the closest anatomical ones).
- 2D images (PNG/JPEG, 2D MedMNIST): kept 2D, `array[row, col]` in screen order (row 0 at the top),
  with an optional last RGB axis; they carry no patient orientation (`axis_labels` is empty).
- `affine` maps (i, j, k, 1) voxel indices to RAS millimetres; `spacing` is millimetres per axis.

Display slices follow the radiological convention: in axial and coronal views the patient's right
is on the screen's left; sagittal views have anterior on the left. `display_slice` returns them in
screen order (row 0 at the top), `slice_edge_labels` names the four screen edges.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

AXIAL, CORONAL, SAGITTAL = "axial", "coronal", "sagittal"
VIEW_AXES = {SAGITTAL: 0, CORONAL: 1, AXIAL: 2}  # which RAS voxel axis each view slices through
_AXIS_CODES = (("L", "R"), ("P", "A"), ("I", "S"))  # (low end, high end) of i, j, k


def slices_to_volume_layout(stack: np.ndarray) -> np.ndarray:
    """A D x H x W stack of images (each slice as it looks, row 0 at the top) in the canonical layout,
    laid out so the axial view shows stored slice k exactly as stored: i = reversed W, j = reversed H, k = D."""
    return np.ascontiguousarray(np.transpose(stack, (2, 1, 0))[::-1, ::-1, :])


def volume_layout_to_slices(array: np.ndarray) -> np.ndarray:
    """The inverse of `slices_to_volume_layout`: a canonical volume as a D x H x W stack of axial slices,
    each as the axial view shows it, inferior first (the layout of MedMNIST 3D and of `.npy` volumes)."""
    return np.ascontiguousarray(np.transpose(array[::-1, ::-1, :], (2, 1, 0)))


@dataclass
class Volume:
    """A scan: voxels, geometry and metadata. Patient identifiers live apart in `identifiers`."""

    array: np.ndarray = field(repr=False)
    spacing: tuple[float, ...]
    affine: np.ndarray = field(default_factory=lambda: np.eye(4), repr=False)
    modality: str = "OT"
    metadata: dict[str, str] = field(default_factory=dict, repr=False)
    name: str = ""
    identifiers: dict[str, str] = field(default_factory=dict, repr=False)
    warnings: list[str] = field(default_factory=list)
    geometry_issues: list = field(default_factory=list)  # engine.io.geometry.GeometryIssue, told in `warnings`
    is_label: bool = False
    label_names: dict[int, str] = field(default_factory=dict)

    # ---- shape -------------------------------------------------------------------------------
    @property
    def is_rgb(self) -> bool:
        """True when the last array axis holds R, G, B."""
        return self.array.ndim == self.spatial_ndim + 1 and self.array.shape[-1] == 3

    @property
    def spatial_ndim(self) -> int:
        """2 for images, 3 for volumes (a single-slice DICOM is a 3D volume one voxel thick)."""
        return len(self.spacing)

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape[: self.spatial_ndim])

    @property
    def is_2d(self) -> bool:
        return self.spatial_ndim == 2

    # ---- intensities -------------------------------------------------------------------------
    def intensity_range(self) -> tuple[float, float]:
        """(min, max) of the voxel values (all finite: loaders replace non-finite values)."""
        if self.array.size == 0:
            return 0.0, 0.0
        return float(self.array.min()), float(self.array.max())

    def percentile_window(self, low: float = 1.0, high: float = 99.0) -> tuple[float, float]:
        """(lower, upper) display levels from percentiles of a subsample of the non-background voxels:
        the automatic window for MR and other scans without absolute units."""
        if low <= 0 and high >= 100:
            return self.intensity_range()
        step = max(1, math.ceil((self.array.size / 1_000_000) ** (1 / self.spatial_ndim)))
        sample = self.array[(slice(None, None, step),) * self.spatial_ndim].ravel()  # a grid: no copy of it all
        foreground = sample[sample > sample.min()]
        if foreground.size > 0.05 * sample.size:  # ignore a flat background (air, outside a skull-strip)
            sample = foreground
        lo, hi = np.percentile(sample, [low, high])
        if hi <= lo:
            lo, hi = self.intensity_range()
            hi = hi if hi > lo else lo + 1.0
        return float(lo), float(hi)

    # ---- orientation -------------------------------------------------------------------------
    @property
    def axis_labels(self) -> tuple[tuple[str, str], ...]:
        """(low end, high end) anatomical label of each voxel axis; empty for 2D images."""
        return _AXIS_CODES if self.spatial_ndim == 3 else ()

    def display_slice(self, view: str | None, index: int = 0) -> np.ndarray:
        """One slice in screen order (row 0 at the top), C-contiguous. `view` is None for 2D images."""
        if self.spatial_ndim == 2 or view is None:
            return np.ascontiguousarray(self.array)
        axis = VIEW_AXES[view]
        index = int(np.clip(index, 0, self.array.shape[axis] - 1))
        plane = self.array[(slice(None),) * axis + (index,)]  # a view (np.take would copy the whole array)
        # axial: (i, j) ; coronal: (i, k) ; sagittal: (j, k). Rows go top->bottom = high->low of 2nd.
        # rows: 2nd remaining axis high -> low (S or A at the top); columns: 1st remaining axis
        # high -> low (R on the left in axial/coronal = radiological, A on the left in sagittal).
        return np.ascontiguousarray(plane.swapaxes(0, 1)[::-1, ::-1])

    def slice_edge_labels(self, view: str | None) -> dict[str, str]:
        """Anatomical label at each screen edge (left/right/top/bottom) of `display_slice`."""
        if self.spatial_ndim == 2 or view is None:
            return {}
        col_axis, row_axis = [a for a in range(3) if a != VIEW_AXES[view]]
        col_low, col_high = _AXIS_CODES[col_axis]
        row_low, row_high = _AXIS_CODES[row_axis]
        return {"left": col_high, "right": col_low, "top": row_high, "bottom": row_low}

    def screen_to_voxel(self, view: str | None, index: int, row: int, col: int) -> tuple[int, ...]:
        """Voxel index under a pixel (row, col) of `display_slice(view, index)`."""
        if self.spatial_ndim == 2 or view is None:
            return (row, col)
        axis = VIEW_AXES[view]
        col_axis, row_axis = [a for a in range(3) if a != axis]
        voxel = [0, 0, 0]
        voxel[axis] = index
        voxel[col_axis] = self.array.shape[col_axis] - 1 - col
        voxel[row_axis] = self.array.shape[row_axis] - 1 - row
        return tuple(voxel)

    def voxel_to_screen(self, view: str, voxel: tuple[int, ...]) -> tuple[int, int, int]:
        """(slice index, row, col) at which `voxel` appears in `view`."""
        axis = VIEW_AXES[view]
        col_axis, row_axis = [a for a in range(3) if a != axis]
        row = self.array.shape[row_axis] - 1 - voxel[row_axis]
        col = self.array.shape[col_axis] - 1 - voxel[col_axis]
        return voxel[axis], row, col

    def display_pixel_size(self, view: str | None) -> tuple[float, float]:
        """(width, height) in millimetres of one screen pixel of `display_slice(view)`."""
        if self.spatial_ndim == 2 or view is None:
            return float(self.spacing[1]), float(self.spacing[0])
        col_axis, row_axis = [a for a in range(3) if a != VIEW_AXES[view]]
        return float(self.spacing[col_axis]), float(self.spacing[row_axis])

    def world_position(self, voxel: tuple[int, ...]) -> tuple[float, ...]:
        """Physical position (RAS millimetres for 3D, row/col millimetres for 2D) of a voxel."""
        if self.spatial_ndim == 2:
            return tuple(float(v * s) for v, s in zip(voxel, self.spacing))
        return tuple(float(x) for x in (self.affine @ np.array([*voxel[:3], 1.0]))[:3])

    def value_at(self, voxel: tuple[int, ...]) -> float | tuple[float, ...]:
        value = self.array[tuple(voxel)]
        if np.ndim(value):
            return tuple(float(v) for v in value)
        return float(value)

    def contains(self, voxel: tuple[int, ...]) -> bool:
        return all(0 <= v < n for v, n in zip(voxel, self.spatial_shape))

    def summary(self) -> dict[str, str]:
        """Properties for an inspector: dimensions, spacing, range, orientation, modality."""
        low, high = self.intensity_range()
        info = {
            "Name": self.name,
            "Modality": self.modality,
            "Dimensions": " x ".join(str(n) for n in self.spatial_shape) + (" (RGB)" if self.is_rgb else ""),
            "Spacing (mm)": " x ".join(f"{s:.3g}" for s in self.spacing),
            "Intensity range": f"{low:.6g} .. {high:.6g}",
            "Data type": str(self.array.dtype),
        }
        if self.spatial_ndim == 3:
            info["Orientation"] = "RAS+ (i: L->R, j: P->A, k: I->S)"
        if self.label_names:
            info["Labels"] = ", ".join(f"{k}: {v}" for k, v in sorted(self.label_names.items()))
        return info
