"""Build a small MSD-format liver task from real CT volumes plus synthetic liver / tumour label maps.

No liver CT is available on these machines, so the CT texture comes from real scans (head CT and
CT angiography), their intensities are mapped onto a pseudo-HU scale, and an ellipsoidal "liver"
with hypodense "tumours" is painted in: tumour voxels are 60 HU darker, so there is a real signal.
"""
from __future__ import annotations

import logging
from pathlib import Path

import nibabel as nib
import numpy as np
from skimage.transform import resize

from engine.errors import UserError
from engine.snndeep.msd import LIVER, TUMOUR, write_dataset_json

log = logging.getLogger(__name__)

DEFAULT_SOURCES = ("CT_pitch.nii.gz", "CT_AVM.nii.gz")
LIVER_HU = 60.0
TUMOUR_DELTA_HU = -60.0


def _pseudo_hu(volume: np.ndarray) -> np.ndarray:
    """Map a rescaled CT (not HU) so its 1st..99.5th percentiles span -1000..400 HU."""
    low, high = np.percentile(volume, [1.0, 99.5])
    return ((volume - low) / max(high - low, 1e-6) * 1400.0 - 1000.0).astype(np.float32)


def _ellipsoid(shape: tuple[int, int, int], centre: np.ndarray, radii: np.ndarray) -> np.ndarray:
    grid = np.ogrid[: shape[0], : shape[1], : shape[2]]
    dist = sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii))
    return dist <= 1.0


def _paint_patient(ct: np.ndarray, rng: np.random.Generator, n_tumours: int) -> tuple[np.ndarray, np.ndarray]:
    shape = ct.shape
    size = np.array(shape, dtype=float)
    centre = size / 2 + rng.uniform(-0.08, 0.08, 3) * size
    liver = _ellipsoid(shape, centre, size * np.array([0.32, 0.26, 0.42]) * rng.uniform(0.85, 1.1, 3))
    texture = np.clip(ct - np.median(ct[liver]), -200.0, 200.0)  # real texture, bone clipped
    out = ct.copy()
    out[liver] = LIVER_HU + 0.12 * texture[liver] + rng.normal(0, 6.0, int(liver.sum()))
    labels = liver.astype(np.uint8) * LIVER
    liver_idx = np.argwhere(liver)
    for _ in range(n_tumours):
        seed_voxel = liver_idx[rng.integers(len(liver_idx))]
        radii = np.array([rng.uniform(4, 9), rng.uniform(4, 9), rng.uniform(2, 4)]) * size[0] / 96
        tumour = _ellipsoid(shape, seed_voxel, radii) & liver
        out[tumour] += TUMOUR_DELTA_HU
        labels[tumour] = TUMOUR
    return out, labels


def build_demo_msd(
    volumes_dir: Path,
    out_dir: Path,
    patients_per_volume: int = 4,
    shape: tuple[int, int, int] = (96, 96, 32),
    seed: int = 0,
    sources: tuple[str, ...] = DEFAULT_SOURCES,
) -> Path:
    """Write `out_dir` as an MSD task (dataset.json, imagesTr, labelsTr) and return it."""
    volumes_dir, out_dir = Path(volumes_dir), Path(out_dir)
    (out_dir / "imagesTr").mkdir(parents=True, exist_ok=True)
    (out_dir / "labelsTr").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    case_ids: list[str] = []
    for source in sources:
        path = volumes_dir / source
        if not path.is_file():
            raise UserError(f"The source volume {path} does not exist.")
        img = nib.as_closest_canonical(nib.load(path))
        ct = _pseudo_hu(np.asarray(img.get_fdata(dtype=np.float32)))
        zooms = np.array(img.header.get_zooms()[:3], dtype=float)
        depth = ct.shape[2]
        span = min(depth, max(shape[2], depth // 2))
        for p in range(patients_per_volume):
            z0 = int(round(p * (depth - span) / max(patients_per_volume - 1, 1)))
            block = resize(ct[:, :, z0 : z0 + span], shape, order=1, anti_aliasing=True, preserve_range=True)
            n_tumours = int(rng.integers(1, 5)) if (len(case_ids) % 4) else 0  # every 4th patient lesion-free
            painted, labels = _paint_patient(block.astype(np.float32), rng, n_tumours)
            spacing = zooms * np.array([ct.shape[0] / shape[0], ct.shape[1] / shape[1], span / shape[2]])
            affine = np.diag([*spacing, 1.0])
            case_id = f"liver_{len(case_ids):03d}"
            nib.save(nib.Nifti1Image(np.round(painted).astype(np.int16), affine), out_dir / "imagesTr" / f"{case_id}.nii.gz")
            nib.save(nib.Nifti1Image(labels, affine), out_dir / "labelsTr" / f"{case_id}.nii.gz")
            case_ids.append(case_id)
    write_dataset_json(out_dir, case_ids)
    log.info("wrote %d demo cases to %s", len(case_ids), out_dir)
    return out_dir
