"""Label / mask volumes: find the one beside an image, and put it on the scan's grid."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.errors import UserError
from engine.io.geometry import SliceStack, resample_stack
from engine.io.volume import Volume

_IMAGE_WORDS = ("_image", "_img", "_ct", "_t1", "_0000")
_LABEL_WORDS = ("_label", "_labels", "_seg", "_mask", "_segmentation")


def _split_ext(path: Path) -> tuple[str, str]:
    name = path.name
    for ext in (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".dcm"):
        if name.lower().endswith(ext):
            return name[: -len(ext)], name[-len(ext):]
    return path.stem, path.suffix


def find_label_for(image_path: Path | str) -> Path | None:
    """A label file that goes with an image: brain1_image.nrrd -> brain1_label.nrrd,
    x.nii.gz -> x_seg.nii.gz / x_mask.nii.gz, MSD imagesTr/x.nii.gz -> labelsTr/x.nii.gz."""
    image_path = Path(image_path)
    stem, ext = _split_ext(image_path)
    if any(stem.lower().endswith(w) for w in _LABEL_WORDS) or not image_path.is_file():
        return None
    bases = [stem] + [stem[: -len(w)] for w in _IMAGE_WORDS if stem.lower().endswith(w)]
    candidates = [image_path.with_name(base + word + ext) for base in bases for word in _LABEL_WORDS]
    if image_path.parent.name.startswith("images"):
        msd_name = stem[:-5] if stem.endswith("_0000") else stem  # nnU-Net style channel suffix
        label_dir = image_path.parent.parent / image_path.parent.name.replace("images", "labels", 1)
        candidates.insert(0, label_dir / (msd_name + ext))
    return next((c for c in candidates if c.is_file() and c != image_path), None)


def as_label(volume: Volume, reference: Volume) -> Volume:
    """An integer label map that overlays `reference`: on the same grid as it is, on another grid
    resampled through both affines (see `resample_label`)."""
    labels = _label_values(volume)
    present = [int(v) for v in np.unique(labels) if v != 0]
    volume.array = labels
    volume.is_label = True
    volume.label_names = volume.label_names or {v: f"label {v}" for v in present}
    volume.metadata["Labels present"] = ", ".join(map(str, present)) or "none"
    return resample_label(volume, reference)


def _label_values(volume: Volume) -> np.ndarray:
    values = volume.array
    if volume.is_rgb:
        raise UserError(f"{volume.name} is a colour image, not a label map.")
    if not np.allclose(values, np.round(values)):
        raise UserError(f"{volume.name} holds fractional values, so it is not a label map.")
    labels = np.ascontiguousarray(np.round(values).astype(np.int32))
    count = len(np.unique(labels[labels != 0]))
    if count > 255:
        raise UserError(f"{volume.name} has {count} distinct values; a label map has at most 255.")
    return labels


def _grid(volume: Volume) -> str:
    return f"{' x '.join(map(str, volume.spatial_shape))} ({' x '.join(f'{s:.3g}' for s in volume.spacing)} mm)"


def resample_label(label: Volume, reference: Volume) -> Volume:
    """`label` (integer values) on `reference`'s voxel grid.

    The same grid is kept as is. A 3D label on another grid is resampled through both affines
    (nearest neighbour, so no new values appear) when its labelled voxels overlap the scan in space;
    it is refused in one sentence when none do. A same-sized grid placed elsewhere (a mask saved
    without its position) is overlaid voxel for voxel, with a warning.
    """
    same_size = label.spatial_shape == reference.spatial_shape
    if same_size and (label.is_2d or np.allclose(label.affine, reference.affine, atol=1e-3)):
        return label
    if label.is_2d or reference.is_2d:
        raise UserError(f"The label {label.name} is {' x '.join(map(str, label.spatial_shape))} and the image is "
                        f"{' x '.join(map(str, reference.spatial_shape))}, and a 2D picture carries no position in "
                        "space, so they cannot be overlaid.")
    labelled, landing = _labelled_voxels_on(label, reference)
    if labelled and not landing:
        if same_size:
            label.warnings.append(f"The label {label.name} lies elsewhere in space than the scan but has the same grid "
                                  "size; it is overlaid voxel for voxel.")
            return label
        raise UserError(f"The label {label.name} does not overlap the scan in space (their centres are "
                        f"{_centre_distance(label, reference):.0f} mm apart), so it cannot be overlaid.")
    if landing < labelled:
        label.warnings.append(f"{labelled - landing} of the label's {labelled} labelled voxels lie outside the scan "
                              "and are not shown.")
    source = SliceStack.from_affine(label.affine, label.spatial_shape[2])
    label.metadata["Resampled"] = f"from {_grid(label)} to the scan's {_grid(reference)}, nearest neighbour"
    label.array = resample_stack(label.array, source, reference.affine, reference.spatial_shape, order=0, fill=0)
    label.affine, label.spacing = reference.affine.copy(), tuple(reference.spacing)
    return label


def _labelled_voxels_on(label: Volume, reference: Volume) -> tuple[int, int]:
    """(labelled voxels of `label`, how many of them lie inside `reference`'s grid). Only a box that
    straddles the scan's edge needs voxel-by-voxel work."""
    labelled = np.count_nonzero(label.array)
    if not labelled:
        return 0, 0
    low, high = _bounding_box(label.array != 0)
    to_reference = np.linalg.inv(reference.affine) @ label.affine
    corners = np.array([[c[0], c[1], c[2], 1.0] for c in np.array(np.meshgrid(*zip(low, high))).reshape(3, -1).T])
    reached = (to_reference @ corners.T)[:3]
    limit = np.array(reference.spatial_shape)[:, None] - 0.5
    if np.all((reached >= -0.5) & (reached <= limit)):
        return labelled, labelled
    if np.any(reached.max(axis=1) < -0.5) or np.any(reached.min(axis=1) > limit[:, 0]):
        return labelled, 0
    box = tuple(slice(lo, hi + 1) for lo, hi in zip(low, high))
    voxels = np.argwhere(label.array[box] != 0) + low
    index = voxels @ to_reference[:3, :3].T + to_reference[:3, 3]
    inside = np.all((index >= -0.5) & (index <= limit[:, 0]), axis=1)
    return labelled, int(inside.sum())


def _bounding_box(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lowest, highest) index of the True voxels along each axis."""
    low, high = [], []
    for axis in range(mask.ndim):
        present = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
        low.append(present[0])
        high.append(present[-1])
    return np.array(low), np.array(high)


def _centre_distance(a: Volume, b: Volume) -> float:
    centres = [v.affine @ np.array([*((np.array(v.spatial_shape) - 1) / 2), 1.0]) for v in (a, b)]
    return float(np.linalg.norm(centres[0][:3] - centres[1][:3]))
