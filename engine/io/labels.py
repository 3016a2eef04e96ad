"""Label / mask volumes: find the one beside an image and check it fits."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.errors import UserError
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
    """Check a volume can overlay `reference` and turn it into an integer label map."""
    if volume.spatial_shape != reference.spatial_shape:
        raise UserError(
            f"The label {volume.name} is {' x '.join(map(str, volume.spatial_shape))} voxels but the scan is "
            f"{' x '.join(map(str, reference.spatial_shape))}; they cannot be overlaid."
        )
    values = volume.array
    if not np.allclose(values, np.round(values)):
        raise UserError(f"{volume.name} holds fractional values, so it is not a label map.")
    labels = np.ascontiguousarray(np.round(values).astype(np.int32))
    present = [int(v) for v in np.unique(labels) if v != 0]
    if len(present) > 255:
        raise UserError(f"{volume.name} has {len(present)} distinct values; a label map has at most 255.")
    volume.array = labels
    volume.is_label = True
    volume.label_names = volume.label_names or {v: f"label {v}" for v in present}
    volume.metadata["Labels present"] = ", ".join(map(str, present)) or "none"
    return volume
