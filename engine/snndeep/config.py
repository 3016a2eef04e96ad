"""Configuration dataclasses for SNNDeep data, models, learning rules and studies."""
from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

IMPLEMENTATIONS = ("custom", "snntorch", "spikingjelly")
RULES = ("bptt", "tempotron", "active")


@dataclass
class SampleConfig:
    """How slices become samples."""

    mode: str = "image"  # image | features
    size: int = 28  # resampled slice side (image mode)
    slab: int = 0  # 2.5D: neighbours on each side stacked as channels
    hu_level: float = 60.0  # liver window
    hu_width: float = 400.0
    min_liver_voxels: int = 200  # a slice is used when it holds this much liver
    min_tumour_voxels: int = 20  # lesion present when tumour voxels exceed this
    max_slices_per_case: int = 0  # 0: all liver slices
    crop_to_liver: bool = True


@dataclass
class ModelConfig:
    """The network shared by the three implementations: input -> hidden LIF -> output LIF."""

    hidden: int = 128
    tau: float = 4.0  # membrane time constant in steps; decay beta = exp(-1/tau)
    threshold: float = 1.0
    timesteps: int = 8
    surrogate_alpha: float = 2.0  # ATan surrogate slope, the same in all three
    detach_reset: bool = False  # snnTorch cannot detach its immediate reset, so none of the three does

    @property
    def beta(self) -> float:
        return math.exp(-1.0 / self.tau)


@dataclass
class RuleConfig:
    """Hyperparameters of all three rules; each rule reads the fields it needs."""

    epochs: int = 5
    batch_size: int = 128
    lr: float = 2e-3  # BPTT (Adam)
    # Tempotron
    tau_psp: float = 8.0  # PSP membrane constant tau (steps)
    tau_syn: float = 2.0  # PSP synaptic constant tau_s (steps)
    tempotron_lr: float = 1.0
    # Active learning + three-factor rule
    initial_labels: int = 40
    query_size: int = 40
    rounds: int = 6
    passes_per_round: int = 3
    stdp_lr: float = 1.0
    trace_tau: float = 4.0  # presynaptic trace (STDP eligibility)
    hidden_gain: float = 2.0  # scale of the fixed random hidden projection
    uncertainty: str = "margin"  # margin | latency
    pool_limit: int = 2000  # unlabelled samples scored per round


@dataclass
class DataConfig:
    """Which task the study runs on."""

    task: str = "msd"  # msd | organamnist
    msd_dir: str = ""
    medmnist_root: str = ""
    folds: int = 3
    protocol: str = "patient"  # patient (leakage free) | slice (random slices, leaky)
    max_train: int = 3000  # subsample sizes keep runs modest on a CPU
    max_test: int = 2000
    seed: int = 0
    samples: SampleConfig = field(default_factory=SampleConfig)

    @property
    def key(self) -> str:
        """Names the task and sample mode (e.g. msd-features) in study names and result files."""
        return f"{self.task}-{self.samples.mode}"


def to_dict(config: Any) -> dict:
    return asdict(config)


def from_dict(cls: type, values: dict) -> Any:
    """Build a dataclass from a dict, ignoring unknown keys and recursing into nested dataclasses."""
    known = {f.name: f for f in fields(cls)}
    kwargs = {}
    for name, value in values.items():
        if name not in known:
            continue
        factory = known[name].default_factory
        nested = factory if factory is not MISSING else None
        if isinstance(value, dict) and callable(nested):
            kwargs[name] = from_dict(type(nested()), value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


def with_overrides(config: Any, overrides: dict) -> Any:
    """A copy of a dataclass with the fields named in `overrides` replaced (unknown keys ignored)."""
    values = asdict(config)
    values.update({k: v for k, v in overrides.items() if k in values})
    return from_dict(type(config), values)


@dataclass
class PipelineConfig:
    """The whole study (`spikeview-engine snndeep report`): where, on what data, how much tuning."""

    study_dir: Path
    report_dir: Path
    volumes_dir: Path | None = None
    medmnist_root: Path | None = None
    msd_dir: Path | None = None  # a real MSD liver task; else a demo task is built from volumes_dir
    storage: str = ""
    trials: int = 6
    tune_epochs: int = 3
    workers: int = 1
    folds: int = 3
    max_train: int = 2000
    max_test: int = 1500
    rule: RuleConfig = field(default_factory=lambda: RuleConfig(epochs=6, rounds=5))
    bench: bool = True
