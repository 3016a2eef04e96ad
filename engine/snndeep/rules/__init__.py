"""The three learning rules. Each takes a model, a fold's data and configs and returns a RuleOutcome."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from engine.errors import UserError

EpochCallback = Callable[[int, float], None]  # (epoch, validation ROC-AUC); may raise to prune


@dataclass
class FoldData:
    """A fold's arrays: inputs in [0, 1] (N x D) and binary labels (N)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_inputs(self) -> int:
        return self.x_train.shape[1]


@dataclass
class RuleOutcome:
    """What a rule hands back: test scores and predictions, timings, and for active learning a curve."""

    test_score: np.ndarray
    test_pred: np.ndarray
    epoch_seconds: list[float]
    samples_per_epoch: int
    val_history: list[float] = field(default_factory=list)
    label_curve: list[dict] = field(default_factory=list)
    notes: str = ""


def class_weights(y: np.ndarray, n_classes: int = 2) -> np.ndarray:
    """Inverse-frequency weights (balanced), so the rare lesion class counts as much as the rest."""
    counts = np.bincount(y, minlength=n_classes).astype(float)
    return np.where(counts > 0, len(y) / (n_classes * np.maximum(counts, 1)), 0.0)


def run_rule(name: str, *args, **kwargs) -> RuleOutcome:
    from engine.snndeep.rules.active import train_active
    from engine.snndeep.rules.bptt import train_bptt
    from engine.snndeep.rules.tempotron import train_tempotron

    rules = {"bptt": train_bptt, "tempotron": train_tempotron, "active": train_active}
    if name not in rules:
        raise UserError(f"Unknown learning rule '{name}'; choose one of: {', '.join(rules)}.")
    return rules[name](*args, **kwargs)
