"""What a model was trained on, its input domain, and how far an input lies from it.

Every run records its `InputDomain` in config.json when training starts: the dataset, the imaging
modality of its images (a DICOM modality code), the plane its 2D slices were cut in when it has one,
2D or 3D, channels, size, contrast enhancement, and `IntensityStats` of its training images after
preprocessing (values in [0, 1]). At inference `engine.probe.domain` compares an input with it.

Intensities are compared through histograms: each training image's histogram lies at some distance
(the Wasserstein-1 distance between cumulative histograms, in units of the full intensity range) from
the pooled histogram of all of them; an input farther than `INTENSITY_MARGIN` times the distance that
99.5 % of training images stay within, and farther than `MIN_INTENSITY_DISTANCE` (a few grey levels: a
synthetic set whose images all share one histogram would otherwise flag any resampled copy of its own
kind), is "far outside the training range". Measured on BreastMNIST,
OrganAMNIST and PneumoniaMNIST: no test image crosses that line; an almost black CT angiography
slice does for the ultrasound model.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from engine.data.spec import DatasetSpec

BINS = 32  # histogram bins over 0..255
INTENSITY_MARGIN = 1.25
MIN_INTENSITY_DISTANCE = 0.03  # of the full intensity range
_MAX_IMAGES = 2000  # images sampled (evenly) for the statistics
_CHUNK = 64

# The images of each dataset, as DICOM modality codes (medmnist.INFO describes them in words).
DATASET_MODALITIES = {
    "pathmnist": "SM", "chestmnist": "DX", "dermamnist": "XC", "octmnist": "OPT", "pneumoniamnist": "DX",
    "retinamnist": "OP", "breastmnist": "US", "bloodmnist": "GM", "tissuemnist": "GM",
    "organamnist": "CT", "organcmnist": "CT", "organsmnist": "CT", "organmnist3d": "CT", "nodulemnist3d": "CT",
    "fracturemnist3d": "CT", "adrenalmnist3d": "SEG", "vesselmnist3d": "SEG", "synapsemnist3d": "GM",
    "phantom2d": "CT", "phantom3d": "CT",  # simulated CT: an organ with hypo- or hyperdense lesions
}
# The plane the 2D images of a dataset were cut from 3D scans in (the others are projections or photographs).
DATASET_PLANES = {"organamnist": "axial", "organcmnist": "coronal", "organsmnist": "sagittal", "phantom2d": "axial"}
MODALITY_NAMES = {
    "CT": "CT", "MR": "MR", "US": "ultrasound", "DX": "X-ray", "SM": "histology slide", "XC": "skin photograph",
    "OPT": "optical coherence tomography", "OP": "retinal photograph", "GM": "microscopy", "SEG": "segmentation mask",
    "PT": "PET", "NM": "nuclear medicine", "MG": "mammography", "XA": "X-ray angiography",
}
_SAME_KIND = {"CR": "DX", "DR": "DX", "RG": "DX", "RF": "DX"}  # radiographs by another name
UNKNOWN_MODALITIES = ("", "OT")


def modality_kind(code: str) -> str:
    """A modality code with radiograph synonyms merged ("CR" -> "DX"); "" when unknown."""
    code = (code or "").upper()
    return "" if code in UNKNOWN_MODALITIES else _SAME_KIND.get(code, code)


def modality_name(code: str) -> str:
    return MODALITY_NAMES.get(modality_kind(code), code or "unknown")


@dataclass
class IntensityStats:
    """Intensities of a set of preprocessed images (values in [0, 1])."""

    mean: float
    std: float
    percentiles: dict[str, float]  # "0.5", "5", "50", "95", "99.5" of all pixels
    histogram: list[float]  # pooled, BINS bins over [0, 1], summing to 1
    image_means: dict[str, float]  # "0.5", "50", "99.5" percentiles of the per-image means
    image_distance: dict[str, float]  # "50", "99.5", "max" of each image's distance to `histogram`
    images: int

    @property
    def distance_limit(self) -> float:
        """Beyond this distance from the pooled histogram an input is far outside the training range."""
        return max(INTENSITY_MARGIN * self.image_distance["99.5"], MIN_INTENSITY_DISTANCE)

    def distance(self, image: np.ndarray) -> float:
        """How far one image (values in [0, 1]) lies from the pooled training histogram."""
        cdf = _cdfs(_to_uint8(image)[None])[0]
        return float(_w1(cdf, np.cumsum(self.histogram)))

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(values: dict) -> "IntensityStats":
        return IntensityStats(**values)


@dataclass
class InputDomain:
    """What a run's model was trained on."""

    dataset: str
    modality: str  # DICOM modality code, "" when unknown
    spatial_dims: int
    n_channels: int
    size: int
    enhance: str = "none"
    plane: str | None = None  # axial / coronal / sagittal for slices cut from 3D scans
    intensity: IntensityStats | None = None  # None for runs trained before it was recorded
    recorded: bool = True  # False: rebuilt from an older run's config (no intensity record)

    @property
    def description(self) -> str:
        """"BreastMNIST-like ultrasound, 2D, 1 channel, 28 px" in words."""
        channels = "1 channel" if self.n_channels == 1 else f"{self.n_channels} channels"
        plane = f" {self.plane}" if self.plane else ""
        return (f"{self.dataset} ({modality_name(self.modality)}{plane}), {self.spatial_dims}D, {channels}, "
                f"{self.size} px")

    def to_dict(self) -> dict:
        values = asdict(self)
        values.pop("recorded")
        return values

    @staticmethod
    def from_dict(values: dict) -> "InputDomain":
        values = dict(values)
        intensity = values.pop("intensity", None)
        return InputDomain(**values, intensity=IntensityStats.from_dict(intensity) if intensity else None)


def dataset_domain(spec: DatasetSpec, enhance: str = "none") -> InputDomain:
    """Everything about a dataset's inputs except their intensities (which need its images)."""
    return InputDomain(spec.flag, DATASET_MODALITIES.get(spec.flag, ""), spec.spatial_dims, spec.n_channels, spec.size,
                       enhance, DATASET_PLANES.get(spec.flag))


def training_domain(spec: DatasetSpec, enhance: str, images) -> InputDomain:
    """The domain of a training split: `images` are the preprocessed uint8 images [N, C, *spatial] (an array,
    or rows read on demand: only the ones `intensity_stats` picks are read)."""
    domain = dataset_domain(spec, enhance)
    domain.intensity = intensity_stats(images)
    return domain


def intensity_stats(images) -> IntensityStats:
    """`IntensityStats` of uint8 images [N, ...] (anything indexed by an array of rows), from at most
    `_MAX_IMAGES` of them, evenly chosen."""
    picked = np.unique(np.linspace(0, len(images) - 1, min(len(images), _MAX_IMAGES)).round().astype(int))
    chosen = np.asarray(images[picked])
    counts = np.zeros(256, np.int64)
    cdfs, means = [], []
    for start in range(0, len(chosen), _CHUNK):
        chunk = chosen[start:start + _CHUNK].reshape(min(_CHUNK, len(chosen) - start), -1)
        counts += np.bincount(chunk.ravel(), minlength=256)
        cdfs.append(_cdfs(chunk))
        means.append(chunk.mean(1) / 255)
    pooled = counts / counts.sum()
    histogram = pooled.reshape(BINS, -1).sum(1)
    levels = np.arange(256) / 255
    mean = float((pooled * levels).sum())
    distances = _w1(np.concatenate(cdfs), np.cumsum(histogram))
    image_means = np.concatenate(means)
    return IntensityStats(
        mean=mean, std=float(np.sqrt((pooled * (levels - mean) ** 2).sum())),
        percentiles={q: float(np.searchsorted(np.cumsum(pooled), float(q) / 100) / 255)
                     for q in ("0.5", "5", "50", "95", "99.5")},
        histogram=[float(h) for h in histogram],
        image_means={q: float(np.percentile(image_means, float(q))) for q in ("0.5", "50", "99.5")},
        image_distance={"50": float(np.percentile(distances, 50)), "99.5": float(np.percentile(distances, 99.5)),
                        "max": float(distances.max())},
        images=len(chosen),
    )


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.round(np.asarray(image, np.float32) * 255), 0, 255).astype(np.uint8)


def _cdfs(images: np.ndarray) -> np.ndarray:
    """Cumulative BINS-bin histograms of uint8 images [N, ...] -> [N, BINS]."""
    flat = images.reshape(len(images), -1).astype(np.int64) // (256 // BINS)
    counts = np.bincount((flat + BINS * np.arange(len(flat))[:, None]).ravel(), minlength=BINS * len(flat))
    counts = counts.reshape(len(flat), BINS).astype(np.float64)
    return np.cumsum(counts / counts.sum(1, keepdims=True), axis=1)


def _w1(cdfs: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Wasserstein-1 distance between cumulative histograms, as a fraction of the intensity range."""
    return np.abs(cdfs - reference).sum(-1) / BINS
