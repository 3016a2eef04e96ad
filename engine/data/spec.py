"""`DatasetSpec`, the description every dataset (MedMNIST, the phantoms) gives of itself, and the split names."""
from __future__ import annotations

from dataclasses import dataclass, field

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class DatasetSpec:
    """What a dataset is: everything needed to build a model for it and to read its files."""

    flag: str
    size: int
    task: str  # binary-class | multi-class | multi-label, binary-class | ordinal-regression
    n_channels: int
    labels: dict[int, str]
    spatial_dims: int
    n_samples: dict[str, int] = field(default_factory=dict)
    md5: str = ""
    url: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    @property
    def label_names(self) -> list[str]:
        """The class names in class order."""
        return [self.labels[i] for i in sorted(self.labels)]

    @property
    def multi_label(self) -> bool:
        return self.task.startswith("multi-label")

    @property
    def filename(self) -> str:
        return f"{self.flag}.npz" if self.size == 28 else f"{self.flag}_{self.size}.npz"

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.n_channels,) + (self.size,) * self.spatial_dims
