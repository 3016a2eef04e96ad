"""One MedMNIST sample as a scan: a stored image or volume turned into a `Volume` (the files themselves
are `engine.data.medmnist`'s business)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.data.catalog import get_spec, load_split
from engine.data.domain import DATASET_MODALITIES
from engine.data.medmnist import medmnist_flags, parse_medmnist_filename
from engine.data.spec import DatasetSpec
from engine.errors import UserError
from engine.io.limits import check_readable_file
from engine.io.volume import Volume, slices_to_volume_layout


def sample_to_volume(image: np.ndarray, spec: DatasetSpec, label: np.ndarray | int, split: str, index: int) -> Volume:
    """One stored sample (uint8; H x W [x 3] or D x H x W) as a Volume.

    2D samples stay 2D in screen order. 3D samples (no orientation is stored) are laid out so the
    axial view shows each stored D-slice exactly as stored: i = reversed W, j = reversed H, k = D.
    """
    labels = np.atleast_1d(np.asarray(label)).astype(int)
    names = [spec.labels.get(int(v), str(int(v))) for v in labels]
    if spec.multi_label:
        names = [spec.labels[k] for k, v in enumerate(labels) if v]
    metadata = {
        "Dataset": spec.flag, "Size": str(spec.size), "Split": split, "Index": str(index),
        "Label": ", ".join(names) or "none", "Task": spec.task, "Format": "MedMNIST npz",
    }
    name = f"{spec.flag} {split} #{index}"
    modality = DATASET_MODALITIES.get(spec.flag, "OT")  # what the dataset's images are (its description says)
    if spec.spatial_dims == 2:
        return Volume(array=np.ascontiguousarray(image), spacing=(1.0, 1.0), modality=modality, metadata=metadata,
                      name=name)
    return Volume(array=slices_to_volume_layout(image), spacing=(1.0, 1.0, 1.0), modality=modality,
                  metadata=metadata, name=name)


def load_medmnist_sample(path: Path | str, split: str, index: int) -> Volume:
    """Sample `index` of `split` from a MedMNIST file such as breastmnist.npz or adrenalmnist3d_64.npz."""
    path = Path(path)
    check_readable_file(path)
    flag, size = parse_medmnist_filename(path)
    if flag not in medmnist_flags():
        raise UserError(f"{path.name} is not a MedMNIST file (those are named like breastmnist.npz); save other "
                        "arrays with numpy.save as .npy.")
    spec = get_spec(flag, size)
    images, labels = load_split(spec, split, path.parent)
    if not 0 <= index < len(images):
        raise UserError(f"{spec.flag} {split} has {len(images)} samples; index {index} does not exist.")
    return sample_to_volume(images[index], spec, labels[index], split, index)
