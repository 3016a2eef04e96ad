"""Reader for Medical Segmentation Decathlon task folders (e.g. Task03_Liver), lazy per volume.

A folder holds `dataset.json`, `imagesTr/*.nii.gz` and `labelsTr/*.nii.gz` (liver task labels:
0 background, 1 liver, 2 tumour). Only one case is in memory at a time: the label map is read
whole (it is small: uint8), the CT only over the z-range that holds liver, in chunks.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from engine.errors import UserError

log = logging.getLogger(__name__)

LIVER, TUMOUR = 1, 2
Z_CHUNK = 32  # slices read from the CT at a time


@dataclass(frozen=True)
class MSDCase:
    """One training case of an MSD task: a patient."""

    case_id: str
    image: Path
    label: Path


@dataclass
class CaseVolume:
    """The liver-bearing part of one case, axial slices last: CT in HU (float32) and labels (uint8)."""

    case_id: str
    ct: np.ndarray  # X x Y x Z (z restricted to liver slices)
    labels: np.ndarray  # X x Y x Z
    spacing: tuple[float, float, float]
    z_offset: int


class MSDTask:
    """An MSD task folder; `cases` lists the patients, `iter_volumes` loads them one by one."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser()
        meta_path = self.root / "dataset.json"
        if not meta_path.is_file():
            raise UserError(f"{self.root} is not an MSD task folder: dataset.json is missing.")
        try:
            self.meta = json.loads(meta_path.read_text())
        except ValueError as exc:
            raise UserError(f"{meta_path} is not valid JSON ({exc}).") from exc
        self.cases = self._read_cases()
        if not self.cases:
            raise UserError(f"{self.root} lists no training cases whose image and label files exist.")

    @property
    def label_names(self) -> dict[int, str]:
        return {int(k): v for k, v in self.meta.get("labels", {}).items()}

    def _read_cases(self) -> list[MSDCase]:
        cases = []
        for entry in self.meta.get("training", []):
            image = self.root / entry["image"]
            label = self.root / entry["label"]
            if not (image.is_file() and label.is_file()):
                log.warning("skipping %s: image or label file missing", entry.get("image"))
                continue
            case_id = image.name.removesuffix(".gz").removesuffix(".nii")
            cases.append(MSDCase(case_id, image, label))
        return cases

    def load_case(self, case: MSDCase, min_liver_voxels: int = 1) -> CaseVolume | None:
        """The liver slab of one case in RAS+ order (axial last), or None when no slice holds enough liver.

        The label map (uint8) is read whole; the CT only over the liver's axial range, Z_CHUNK
        slices at a time, each chunk reoriented on its own, so a 512 x 512 x 900 CT is never
        held whole."""
        label_img = nib.load(case.label)
        ornt = nib.orientations.io_orientation(label_img.affine)
        labels = nib.orientations.apply_orientation(np.asarray(label_img.dataobj, dtype=np.uint8), ornt)
        z_with_liver = np.flatnonzero((labels > 0).sum(axis=(0, 1)) >= max(1, min_liver_voxels))
        if z_with_liver.size == 0:
            return None
        z0, z1 = int(z_with_liver[0]), int(z_with_liver[-1]) + 1
        image_img = nib.load(case.image)
        if image_img.shape[:3] != label_img.shape[:3]:
            raise UserError(f"{case.image.name} and its label map have different shapes.")
        chunks = [_read_axial_chunk(image_img, ornt, z, min(z + Z_CHUNK, z1)) for z in range(z0, z1, Z_CHUNK)]
        zooms = image_img.header.get_zooms()[:3]
        spacing = tuple(float(zooms[int(np.flatnonzero(ornt[:, 0] == axis)[0])]) for axis in range(3))
        return CaseVolume(case.case_id, np.concatenate(chunks, axis=2), labels[:, :, z0:z1].copy(), spacing, z0)  # type: ignore[arg-type]

    def iter_volumes(self, min_liver_voxels: int = 1) -> Iterator[CaseVolume]:
        for case in self.cases:
            volume = self.load_case(case, min_liver_voxels)
            if volume is None:
                log.info("%s holds no liver slice; skipped", case.case_id)
                continue
            yield volume


def _read_axial_chunk(img: nib.Nifti1Image, ornt: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Canonical axial slices [start, stop) of an image, reading only those slices from disk."""
    axial = int(np.flatnonzero(ornt[:, 0] == 2)[0])  # the array axis that runs inferior-superior
    depth = img.shape[axial]
    lo, hi = (depth - stop, depth - start) if ornt[axial, 1] < 0 else (start, stop)
    index = [slice(None)] * 3
    index[axial] = slice(lo, hi)
    chunk = np.asarray(img.dataobj[tuple(index)], dtype=np.float32)
    return nib.orientations.apply_orientation(chunk, ornt)


def write_dataset_json(root: Path, case_ids: list[str], name: str = "Task03_Liver") -> None:
    meta = {
        "name": name,
        "description": "Liver and liver tumour segmentation",
        "tensorImageSize": "3D",
        "modality": {"0": "CT"},
        "labels": {"0": "background", "1": "liver", "2": "cancer"},
        "numTraining": len(case_ids),
        "numTest": 0,
        "training": [
            {"image": f"./imagesTr/{c}.nii.gz", "label": f"./labelsTr/{c}.nii.gz"} for c in case_ids
        ],
        "test": [],
    }
    (root / "dataset.json").write_text(json.dumps(meta, indent=2))
