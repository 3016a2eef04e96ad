"""Resampling speed on CT-sized grids (512 x 512 x 300); prints one JSON object.

    .venv/bin/python benchmarks/bench_resample.py

Figures, each beside scipy's own one-call resampling of the same grid (the reference):
- a lesion mask on a 1024 x 1024 x 300 grid put on a 512 x 512 x 300 scan (`engine.io.resample_label`,
  nearest neighbour) against `scipy.ndimage.affine_transform(order=0)`;
- a 15° gantry-tilted series straightened (`engine.io.geometry.regularize`, linear) against
  `affine_transform(order=1)` plus its coverage mask, the same work in one 3D pass;
- a series with 30 of 330 slices missing resampled to even spacing (no one-call reference: the slices
  are not on one affine grid).
"""
from __future__ import annotations

import json
import platform
import time

import numpy as np
from scipy import ndimage

from engine.io import Volume, resample_label
from engine.io.geometry import SliceStack, regularize, stack_issues

SLICES = 300


def _seconds(work) -> tuple[float, object]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


def label_across_grids() -> dict:
    mask = np.zeros((1024, 1024, SLICES), np.int32)
    mask[300:700, 300:700, 50:250] = 1
    fine = np.diag([0.35, 0.35, 1.0, 1.0])
    fine[:2, 3] = -0.175
    scan = Volume(array=np.zeros((512, 512, SLICES), np.int16), spacing=(0.7, 0.7, 1.0), affine=np.diag([0.7, 0.7, 1.0, 1.0]))
    ours, overlay = _seconds(lambda: resample_label(Volume(array=mask, spacing=(0.35, 0.35, 1.0), affine=fine), scan))
    mapping = np.linalg.inv(fine) @ scan.affine
    reference, expected = _seconds(lambda: ndimage.affine_transform(mask, mapping[:3, :3], mapping[:3, 3], scan.array.shape,
                                                                    order=0, mode="grid-constant"))
    assert np.array_equal(overlay.array, expected)
    return {"label_1024_to_512_s": round(ours, 2), "label_scipy_one_call_s": round(reference, 2)}


def tilted_series(image: np.ndarray) -> dict:
    tilt = np.radians(15)
    stack = SliceStack(np.array([0.7, 0, 0]), np.array([0, 0.7 * np.cos(tilt), 0.7 * np.sin(tilt)]),
                       np.array([[0, 0, 1.0 * k] for k in range(SLICES)]))
    issues = stack_issues(stack)
    ours, (straight, affine) = _seconds(lambda: regularize(image, stack, issues))

    def one_call() -> np.ndarray:
        mapping = np.linalg.inv(stack.median_affine()) @ affine
        values = ndimage.affine_transform(image, mapping[:3, :3], mapping[:3, 3], straight.shape, output=np.float32,
                                          order=1, mode="nearest")
        inside = ndimage.affine_transform(np.ones(image.shape, np.uint8), mapping[:3, :3], mapping[:3, 3], straight.shape,
                                          order=0, mode="grid-constant")
        return np.where(inside > 0, values, image.min())

    reference, expected = _seconds(one_call)
    difference = float(np.abs(straight.astype(np.float32) - np.rint(expected)).max())
    return {"tilt_straighten_s": round(ours, 2), "tilt_scipy_one_call_s": round(reference, 2),
            "tilt_shape": list(straight.shape), "tilt_max_difference_hu": difference}


def series_with_gaps(image: np.ndarray) -> dict:
    kept = np.sort(np.random.default_rng(0).choice(SLICES + 30, SLICES, replace=False))
    stack = SliceStack(np.array([0.7, 0, 0]), np.array([0, 0.7, 0]), np.array([[0, 0, 1.0 * k] for k in kept]))
    issues = [issue for issue in stack_issues(stack, nominal_step=1.0) if issue.resampling_fixes]
    ours, (even, _) = _seconds(lambda: regularize(image, stack, issues))
    return {"gaps_even_spacing_s": round(ours, 2), "gaps_shape": list(even.shape), "gaps_issue": issues[0].kind}


def main() -> None:
    image = np.random.default_rng(1).integers(-1000, 1500, (512, 512, SLICES)).astype(np.int16)
    figures = {"machine": platform.machine(), "python": platform.python_version()}
    figures |= label_across_grids() | tilted_series(image) | series_with_gaps(image)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
