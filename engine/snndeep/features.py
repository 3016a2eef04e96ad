"""CT features of one slice's liver region: intensity statistics and GLCM texture (skimage)."""
from __future__ import annotations

import numpy as np
from scipy import stats
from skimage.feature import graycomatrix, graycoprops

GLCM_LEVELS = 32
GLCM_DISTANCES = (1, 2)
GLCM_ANGLES = (0.0, np.pi / 4, np.pi / 2, 3 * np.pi / 4)
GLCM_PROPS = ("contrast", "dissimilarity", "homogeneity", "energy", "correlation", "ASM")
INTENSITY_NAMES = ("mean", "std", "p10", "p25", "p50", "p75", "p90", "skewness", "kurtosis", "entropy", "area")
FEATURE_NAMES = INTENSITY_NAMES + tuple(f"glcm_{p}_d{d}" for p in GLCM_PROPS for d in GLCM_DISTANCES)


def intensity_features(values: np.ndarray, area_fraction: float) -> list[float]:
    hist, _ = np.histogram(values, bins=32, range=(0.0, 1.0))
    prob = hist[hist > 0] / max(hist.sum(), 1)
    spread = float(values.std())
    return [
        float(values.mean()),
        spread,
        *np.percentile(values, [10, 25, 50, 75, 90]).tolist(),
        float(stats.skew(values)) if spread > 0 else 0.0,
        float(stats.kurtosis(values)) if spread > 0 else 0.0,
        float(-(prob * np.log2(prob)).sum()),
        area_fraction,
    ]


def glcm_features(window01: np.ndarray, mask: np.ndarray) -> list[float]:
    """GLCM properties over pixel pairs inside the mask (level 0 marks outside and is dropped)."""
    levels = np.minimum((window01 * GLCM_LEVELS).astype(np.int64), GLCM_LEVELS - 1) + 1
    levels[~mask] = 0
    matrix = graycomatrix(levels.astype(np.uint8), GLCM_DISTANCES, GLCM_ANGLES, levels=GLCM_LEVELS + 1)
    matrix = matrix[1:, 1:].astype(np.float64)
    totals = matrix.sum(axis=(0, 1), keepdims=True)
    matrix = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    values = []
    for prop in GLCM_PROPS:
        per_distance = np.nan_to_num(graycoprops(matrix, prop)).mean(axis=1)  # average over angles
        values.extend(float(v) for v in per_distance)
    return values


def slice_features(window01: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """A fixed-length feature vector (see FEATURE_NAMES) of a windowed [0, 1] slice."""
    mask = np.ones(window01.shape, bool) if mask is None else mask.astype(bool)
    if not mask.any():
        return np.zeros(len(FEATURE_NAMES), np.float32)
    features = intensity_features(window01[mask], float(mask.mean())) + glcm_features(window01, mask)
    return np.asarray(features, dtype=np.float32)
