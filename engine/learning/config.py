"""The training configuration: one dataclass, saved as the run's `config.json`."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from engine.errors import UserError


@dataclass
class TrainConfig:
    dataset: str = "phantom2d"
    size: int = 28
    data_root: str | None = None
    model: str = "sdt_tiny"
    model_overrides: dict = field(default_factory=dict)  # e.g. {"dims": [32, 64, 128], "depth": 2}
    timesteps: int = 4
    encoder: str = "direct"  # direct | poisson | latency
    epochs: int = 10
    batch_size: int = 64
    eval_batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup_epochs: float = 1.0
    loss: str = "tet"  # tet | ce
    tet_lambda: float = 0.05
    tet_phi: float = 1.0
    augment: bool = True
    enhance: str = "none"  # none | equalize | clahe | percentile
    device: str = "auto"  # auto | cpu | cuda
    seed: int = 0
    train_limit: int | None = None  # train on the first N samples only (quick demos and tests)
    probe_every: int = 0  # record the probe sample's dynamics every N steps; 0 never

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(values: dict) -> "TrainConfig":
        known = {f.name for f in fields(TrainConfig)}
        unknown = set(values) - known
        if unknown:
            raise UserError(f"Unknown training option(s): {', '.join(sorted(unknown))}.")
        return TrainConfig(**values)

    def validate(self) -> None:
        checks = [
            (self.epochs >= 1, "--epochs must be at least 1"),
            (self.batch_size >= 1, "--batch-size must be at least 1"),
            (self.timesteps >= 1, "--timesteps must be at least 1"),
            (self.lr > 0, "--lr must be positive"),
            (self.loss in ("tet", "ce"), f"--loss must be tet or ce, not '{self.loss}'"),
            (self.device in ("auto", "cpu", "cuda"), f"--device must be auto, cpu or cuda, not '{self.device}'"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(message + ".")
