"""Is a voxel grid what it claims to be? Missing, duplicated and unevenly spaced slices, mixed
orientations, gantry tilt and shear: found, told in one sentence each, and resampled away on request.

The choice is the one the big viewers offer: open the scan as stored, with a warning carried on the
`Volume` (its `warnings` and `geometry_issues`), or resample it onto an even, straight grid.
Resampling goes through `SliceStack`, which knows where every voxel of a stack of parallel slices
lies even when the slices are unevenly spaced or sheared; labels on another grid use the same code
(nearest neighbour) to land on a scan.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from engine.errors import UserError
from engine.io.volume import Volume

AS_IS, RESAMPLE = "as_is", "resample"
GEOMETRY_CHOICES = (AS_IS, RESAMPLE)

_TILT_DEGREES = 0.1  # smaller tilts or shears are rounding in the file, not geometry
POSITION_TOLERANCE_MM = 0.02
_RELATIVE_TOLERANCE = 0.02  # of the slice step, for "evenly spaced" and "a whole number of steps"


@dataclass(frozen=True)
class GeometryIssue:
    """Something wrong with where the slices are. `describe(mode)` tells it in one sentence."""

    kind: str  # "missing" | "uneven" | "tilt" | "shear" | "duplicate" | "orientation"
    finding: str  # what was found, a clause that starts the sentence
    step_mm: float = 0.0  # the even slice step resampling uses (for the sentence)

    @property
    def resampling_fixes(self) -> bool:
        return self.kind in ("missing", "uneven", "tilt", "shear")

    def describe(self, mode: str) -> str:
        if not self.resampling_fixes:
            return f"{self.finding}."
        if mode == RESAMPLE:
            return f"{self.finding}; it was {_RESAMPLED[self.kind].format(step=self.step_mm)}."
        return f"{self.finding}; {_AS_IS[self.kind]}: reopen it with resampling to {_FIX[self.kind]}."


_AS_IS = {
    "missing": "it is shown as stored, so distances and shapes across the gaps are wrong",
    "uneven": "it is shown with one median spacing, so distances along the slices are approximate",
    "tilt": "it is shown as stored, so it looks sheared in side views and in 3D",
    "shear": "it is shown as stored, so it looks sheared in side views and in 3D",
}
_FIX = {"missing": "even spacing to correct them", "uneven": "even spacing to correct them",
        "tilt": "a straight grid to correct it", "shear": "a straight grid to correct it"}
_RESAMPLED = {
    "missing": "resampled to even {step:.3g} mm spacing, so the slices in the gaps are interpolated from their neighbours",
    "uneven": "resampled to even {step:.3g} mm spacing",
    "tilt": "resampled onto a straight grid with {step:.3g} mm between slices",
    "shear": "resampled onto a straight grid with {step:.3g} mm between slices",
}


def check_geometry_choice(mode: str) -> str:
    if mode not in GEOMETRY_CHOICES:
        raise UserError(f"The geometry choice must be one of {', '.join(GEOMETRY_CHOICES)}, not {mode!r}.")
    return mode


# ---- where voxels lie -------------------------------------------------------------------------
@dataclass(frozen=True)
class SliceStack:
    """A stack of parallel slices in millimetres: voxel (i, j) of slice s lies at
    `origins[s] + i * step_i + j * step_j`. The slices run monotonically along the normal."""

    step_i: np.ndarray
    step_j: np.ndarray
    origins: np.ndarray  # (n_slices, 3)

    @classmethod
    def from_affine(cls, affine: np.ndarray, n_slices: int) -> SliceStack:
        k = np.arange(n_slices)[:, None]
        return cls(affine[:3, 0].copy(), affine[:3, 1].copy(), affine[:3, 3] + k * affine[:3, 2])

    @property
    def n_slices(self) -> int:
        return len(self.origins)

    @property
    def normal(self) -> np.ndarray:
        cross = np.cross(self.step_i, self.step_j)
        return cross / np.linalg.norm(cross)

    @property
    def positions(self) -> np.ndarray:
        """Each slice's distance along the normal (mm)."""
        return self.origins @ self.normal

    @property
    def steps(self) -> np.ndarray:
        """Distances between neighbouring slices along the normal (mm, positive)."""
        return np.abs(np.diff(self.positions))

    def median_affine(self) -> np.ndarray:
        """The affine that places the slices at their median step: exact for an even stack."""
        affine = np.eye(4)
        affine[:3, 0], affine[:3, 1], affine[:3, 3] = self.step_i, self.step_j, self.origins[0]
        affine[:3, 2] = np.median(np.diff(self.origins, axis=0), axis=0) if self.n_slices > 1 else self.normal
        return affine

    def is_regular(self) -> bool:
        """True when one affine places every slice exactly (even steps, straight or sheared)."""
        travel = np.diff(self.origins, axis=0)
        return len(travel) == 0 or bool(np.all(np.abs(travel - travel[0]) <= POSITION_TOLERANCE_MM))

    def tilt_degrees(self) -> float:
        """Angle between the line through the slice origins and the slice normal."""
        if self.n_slices < 2:
            return 0.0
        travel = self.origins[-1] - self.origins[0]
        cosine = abs(travel @ self.normal) / max(np.linalg.norm(travel), 1e-12)
        return float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))


def resample_stack(array: np.ndarray, stack: SliceStack, target_affine: np.ndarray, target_shape: tuple[int, int, int],
                   order: int, fill: float, progress: Callable[[float], None] | None = None) -> np.ndarray:
    """`array` (i, j, slice), whose voxels lie where `stack` says, sampled on the grid of `target_affine`:
    order 0 is nearest neighbour (labels), 1 linear (images). Target points more than half a voxel
    outside the stack get `fill`."""
    out_type = array.dtype if order == 0 else np.float32
    if _parallel(stack, target_affine):
        return _resample_slicewise(array, stack, target_affine, target_shape, order, fill, out_type, progress)
    if not stack.is_regular():  # onto its own even grid first, then like any evenly spaced volume
        even_affine, even_shape = even_grid(stack, array.shape[:2], float(np.median(stack.steps)))
        array = _resample_slicewise(array, stack, even_affine, even_shape, order, fill, out_type, None)
        stack = SliceStack.from_affine(even_affine, even_shape[2])
    return _resample_affine(array, stack.median_affine(), target_affine, target_shape, order, fill, out_type)


def _parallel(stack: SliceStack, target_affine: np.ndarray) -> bool:
    """True when the target grid's slices lie in planes parallel to the stack's."""
    in_plane = target_affine[:3, :2] / np.linalg.norm(target_affine[:3, :2], axis=0)
    return bool(np.all(np.abs(stack.normal @ in_plane) < 1e-6))


def _resample_slicewise(array, stack, target_affine, target_shape, order, fill, out_type, progress) -> np.ndarray:
    """Target slices parallel to the stack's: each is a 2D resampling of its one or two nearest slices
    (weighted by distance along the normal), whatever the spacing between them."""
    positions, numbers = stack.positions, np.arange(stack.n_slices, dtype=float)
    if positions[0] > positions[-1]:  # np.interp needs ascending positions
        positions, numbers = positions[::-1], numbers[::-1]
    # a slice reaches half way to its neighbour (half a millimetre for a single slice)
    half = (0.5, 0.5)
    if stack.n_slices > 1:
        half = (0.5 * abs(positions[1] - positions[0]), 0.5 * abs(positions[-1] - positions[-2]))
    to_source = np.linalg.pinv(np.stack([stack.step_i, stack.step_j], axis=1))  # world offset -> (i, j) of a slice
    matrix, plane_shape = to_source @ target_affine[:3, :2], target_shape[:2]
    if np.allclose(matrix, np.diag(np.diag(matrix)), atol=1e-9):
        matrix = np.diag(matrix)  # scipy's faster path for axis-aligned zooms and shifts
    out = np.full(target_shape, fill, dtype=out_type)
    for k in range(target_shape[2]):
        corner = target_affine[:3, 2] * k + target_affine[:3, 3]  # where target voxel (0, 0, k) lies
        along = corner @ stack.normal
        if not positions[0] - half[0] <= along <= positions[-1] + half[1]:
            continue
        s = float(np.interp(along, positions, numbers))
        low = int(np.floor(s))
        high, weight = min(low + 1, stack.n_slices - 1), s - low
        offset = to_source @ (corner - ((1 - weight) * stack.origins[low] + weight * stack.origins[high]))

        def plane(n: int, plane_order: int, mode: str) -> np.ndarray:
            return ndimage.affine_transform(np.ascontiguousarray(array[:, :, n]), matrix, offset, plane_shape,
                                            output=out_type, order=plane_order, mode=mode, cval=fill)

        if order == 0:
            out[:, :, k] = plane(high if weight >= 0.5 else low, 0, "grid-constant")
        else:
            values = (1 - weight) * plane(low, order, "nearest") + (weight * plane(high, order, "nearest") if weight else 0)
            inside = ndimage.affine_transform(np.ones(array.shape[:2], np.uint8), matrix, offset, plane_shape, order=0,
                                              mode="grid-constant", cval=0)
            out[:, :, k] = np.where(inside > 0, values, fill)
        if progress and k % 16 == 0:
            progress(k / target_shape[2])
    return out


def _resample_affine(array, source_affine, target_affine, target_shape, order, fill, out_type) -> np.ndarray:
    """The evenly spaced case in one pass of scipy's affine_transform (target voxel -> source voxel)."""
    mapping = np.linalg.inv(source_affine) @ target_affine
    matrix, offset = mapping[:3, :3], mapping[:3, 3]
    if order == 0:  # 'grid-constant' rounds to the nearest voxel and fills beyond half a voxel
        return ndimage.affine_transform(array, matrix, offset, target_shape, output=out_type, order=0,
                                        mode="grid-constant", cval=fill)
    values = ndimage.affine_transform(array, matrix, offset, target_shape, output=out_type, order=order, mode="nearest")
    inside = ndimage.affine_transform(np.ones(array.shape, np.uint8), matrix, offset, target_shape, order=0,
                                      mode="grid-constant", cval=0)
    values[inside == 0] = fill
    return values


# ---- finding the issues -----------------------------------------------------------------------
def stack_issues(stack: SliceStack, nominal_step: float | None = None, tilt_word: str = "tilt") -> list[GeometryIssue]:
    """Gaps, uneven spacing and tilt of a stack. `nominal_step` (e.g. DICOM SliceThickness) helps to
    count missing slices when no two neighbours survived; `tilt_word` is "tilt" (a DICOM series,
    where it comes from the gantry) or "shear" (a file's affine)."""
    issues = []
    steps = stack.steps
    if len(steps) and np.ptp(steps) > _tolerance(float(np.median(steps))):
        issues.append(_spacing_issue(steps, nominal_step))
    tilt = stack.tilt_degrees()
    if tilt > _TILT_DEGREES:
        step = issues[0].step_mm if issues else float(np.median(steps))
        finding = (f"The slices were acquired with a gantry tilt of {tilt:.1f}°" if tilt_word == "tilt" else
                   f"The voxel grid of this file is sheared by {tilt:.1f}° (as after a gantry-tilted CT)")
        issues.append(GeometryIssue(tilt_word, finding, step))
    return issues


def affine_issues(affine: np.ndarray, n_slices: int) -> list[GeometryIssue]:
    """Shear of a file's affine: slices offset sideways, or in-plane axes that are not perpendicular."""
    issues = stack_issues(SliceStack.from_affine(affine, max(n_slices, 2)), tilt_word="shear")
    in_plane = _angle_degrees(affine[:3, 0], affine[:3, 1])
    if not issues and abs(in_plane - 90.0) > _TILT_DEGREES:
        step = float(abs(affine[:3, 2] @ SliceStack.from_affine(affine, 2).normal))
        issues.append(GeometryIssue("shear", f"The voxel grid of this file is sheared by {abs(in_plane - 90):.1f}° "
                                             "within its slices", step))
    return issues


def _tolerance(step: float) -> float:
    return max(POSITION_TOLERANCE_MM, _RELATIVE_TOLERANCE * abs(step))


def _angle_degrees(a: np.ndarray, b: np.ndarray) -> float:
    cosine = a @ b / (np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))


def _whole_multiples(steps: np.ndarray, unit: float) -> np.ndarray | None:
    """How many `unit` steps each step spans, when every one is (nearly) a whole number of them."""
    if unit <= 0:
        return None
    counts = np.rint(steps / unit)
    if np.all(counts >= 1) and np.all(np.abs(steps - counts * unit) <= _tolerance(unit)):
        return counts.astype(int)
    return None


def _spacing_issue(steps: np.ndarray, nominal_step: float | None) -> GeometryIssue:
    for unit in (float(steps.min()), nominal_step or 0.0):
        counts = _whole_multiples(steps, unit)
        if counts is not None and counts.max() > 1:
            missing, gaps = int((counts - 1).sum()), int((counts > 1).sum())
            slices = "slice is" if missing == 1 else "slices are"
            where = "a gap" if gaps == 1 else f"{gaps} gaps"
            return GeometryIssue("missing", f"{missing} {slices} missing from this series ({where}, the widest "
                                            f"{steps.max():.3g} mm where slices are {unit:.3g} mm apart)", unit)
    median = float(np.median(steps))
    return GeometryIssue("uneven", f"The slices of this series are unevenly spaced ({steps.min():.3g} to "
                                   f"{steps.max():.3g} mm apart)", median)


# ---- the even grid ------------------------------------------------------------------------------
def even_grid(stack: SliceStack, shape_ij: tuple[int, int], step: float) -> tuple[np.ndarray, tuple[int, int, int]]:
    """A straight grid (perpendicular axes, `step` between slices) that covers every voxel of `stack`:
    (affine, shape). Its in-plane axes keep the stack's directions and voxel sizes."""
    size_i, size_j = np.linalg.norm(stack.step_i), np.linalg.norm(stack.step_j)
    axis_i = stack.step_i / size_i
    axis_j = stack.step_j - (stack.step_j @ axis_i) * axis_i
    axis_j /= np.linalg.norm(axis_j)
    axes = np.stack([axis_i, axis_j, stack.normal], axis=1)
    corners = np.array([[0, 0], [shape_ij[0] - 1, 0], [0, shape_ij[1] - 1], [shape_ij[0] - 1, shape_ij[1] - 1]], float)
    points = (stack.origins[:, None, :] + corners[None, :, :1] * stack.step_i + corners[None, :, 1:] * stack.step_j)
    coords = points.reshape(-1, 3) @ axes  # each corner in the new axes (mm)
    spacing = np.array([size_i, size_j, step])
    low, high = coords.min(axis=0), coords.max(axis=0)
    shape = tuple(int(n) for n in np.floor((high - low) / spacing + 1e-6).astype(int) + 1)
    affine = np.eye(4)
    affine[:3, :3] = axes * spacing
    affine[:3, 3] = axes @ low
    return affine, shape


def regularize(array: np.ndarray, stack: SliceStack, issues: list[GeometryIssue],
               progress: Callable[[float], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The stack resampled (linear) onto an even, straight grid: (array, affine). Voxels the
    original did not cover get its lowest value."""
    step = next(issue.step_mm for issue in issues if issue.resampling_fixes)
    affine, shape = even_grid(stack, array.shape[:2], step)
    fill = float(array.min())
    resampled = resample_stack(array, stack, affine, shape, order=1, fill=fill, progress=progress)
    if np.issubdtype(array.dtype, np.integer):
        info = np.iinfo(array.dtype)
        resampled = np.clip(np.rint(resampled), info.min, info.max).astype(array.dtype)
    return resampled, affine


# ---- a scan as read, before it becomes a Volume -------------------------------------------------
@dataclass
class StoredScan:
    """Voxels in the file's order (i, j, slice), where they lie, and what is wrong with that.

    `affine` places them as stored (for an uneven or tilted series: at the median step); `stack`,
    when given, knows each slice's own position (DICOM series), else it follows from `affine`."""

    array: np.ndarray
    affine: np.ndarray
    shell: Volume
    stack: SliceStack | None = None
    issues: list[GeometryIssue] = field(default_factory=list)

    def slice_stack(self) -> SliceStack:
        return self.stack if self.stack is not None else SliceStack.from_affine(self.affine, self.array.shape[2])
