"""A run's calibration (`calibration.json`): the temperature that divides its scores before the softmax,
fitted on `val`, the expected calibration error before and after, and the reliability diagrams.

Written by `engine.learning.calibration` when a training run finishes; read by `load_for_run`, so
inference reports calibrated probabilities, and by the app's reliability diagram.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from engine.errors import UserError

CALIBRATION = "calibration.json"


@dataclass
class ReliabilityBins:
    """Equal-width confidence bins: mean confidence, accuracy and sample count of each (empty bins: NaN)."""

    edges: list[float]
    confidence: list[float]
    accuracy: list[float]
    counts: list[int]


@dataclass
class Calibration:
    temperature: float
    ece: dict[str, dict[str, float]]  # split → {"before": ..., "after": ...}
    reliability: dict[str, ReliabilityBins] = field(default_factory=dict)  # "before" / "after", on test
    fitted_on: str = "val"

    def summary(self) -> dict:
        return {"temperature": self.temperature, "fitted_on": self.fitted_on,
                **{f"{split}_ece_{when}": value for split, pair in self.ece.items() for when, value in pair.items()}}

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(values: dict) -> "Calibration":
        bins = {name: ReliabilityBins(**b) for name, b in values.get("reliability", {}).items()}
        return Calibration(float(values["temperature"]), values["ece"], bins, values.get("fitted_on", "val"))

    def save(self, run_dir: Path | str) -> Path:
        path = Path(run_dir) / CALIBRATION
        path.write_text(json.dumps(self.to_dict(), indent=2))
        return path


def read_calibration(run_dir: Path | str) -> Calibration | None:
    """The run's calibration, or None for a run trained before calibration existed."""
    path = Path(run_dir) / CALIBRATION
    if not path.is_file():
        return None
    try:
        return Calibration.from_dict(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{path} is damaged and cannot be read ({exc}).") from exc
