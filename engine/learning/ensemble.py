"""An ensemble of runs of one dataset: the mean of their calibrated probabilities.

Runs that differ only in their seed disagree on the hard cases; the mean of their probabilities is a
steadier decision than any one of them. Each member's own temperature (fitted on val when it was
trained) is applied first, so no member counts more for being over-confident. The ensemble costs
one inference per member: its energy is the members' sum.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.data.catalog import get_spec
from engine.data.pipeline import load_split_tensors
from engine.errors import UserError
from engine.learning.calibration import expected_calibration_error
from engine.learning.evaluation import split_logits
from engine.learning.metrics import evaluate_scores
from engine.models.loading import LoadedRun
from engine.models.outputs import probabilities_from_logits


@dataclass
class EnsembleScores:
    """An ensemble's figures on one split, and each member's own."""

    dataset: str
    split: str
    samples: int
    metrics: dict  # acc, auc, top5 where it applies, loss (of the mean probabilities)
    ece: float  # expected calibration error of the mean probabilities
    members: list[dict]  # per member: run, acc, auc, top5, loss, temperature

    def to_dict(self) -> dict:
        return {"dataset": self.dataset, "split": self.split, "samples": self.samples, **self.metrics, "ece": self.ece,
                "members": self.members}


def check_members(members: list[LoadedRun]) -> None:
    """Members must answer the same question: one dataset, size and set of labels."""
    if not members:
        raise UserError("An ensemble needs at least one run.")
    first = members[0]
    for other in members[1:]:
        if (other.config.dataset, other.config.size) != (first.config.dataset, first.config.size):
            raise UserError(f"The run {first.path.name} is of {first.config.dataset} at {first.config.size} px and "
                            f"the run {other.path.name} of {other.config.dataset} at {other.config.size} px: an "
                            "ensemble's runs must share one dataset and size.")
        if other.label_names != first.label_names or other.task != first.task:
            raise UserError(f"The runs {first.path.name} and {other.path.name} name different classes: an "
                            "ensemble's runs must share one set of labels.")


def probability_loss(probabilities: np.ndarray, labels: np.ndarray, multi_label: bool) -> float:
    """Mean cross-entropy of probabilities (BCE per label for multi-label tasks)."""
    p = np.clip(probabilities, 1e-7, 1 - 1e-7)
    if multi_label:
        return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))
    return float(-np.mean(np.log(p[np.arange(len(p)), labels.reshape(-1).astype(np.int64)])))


def calibrated_probabilities(member: LoadedRun, split: str, data_root: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """A member's temperature-scaled probabilities [N, classes] on a split, and the split's labels."""
    spec = get_spec(member.config.dataset, member.config.size)
    root = data_root or (Path(member.config.data_root) if member.config.data_root else None)
    data = load_split_tensors(spec, split, member.prep, root)
    logits, _ = split_logits(member.model, data, spec, member.config, member.device)
    probabilities = probabilities_from_logits(torch.from_numpy(logits), member.multi_label, member.temperature)
    return probabilities.numpy(), data.labels.numpy()


def score_ensemble(members: list[LoadedRun], split: str = "test", data_root: Path | None = None,
                   on_member=None) -> EnsembleScores:
    """The ensemble's ACC, AUC, loss and calibration error on a split, and each member's own figures
    (`on_member(i, n)`: called after each member is scored, for progress)."""
    check_members(members)
    task, multi_label = members[0].task, members[0].multi_label
    every, own = [], []
    for i, member in enumerate(members):
        probabilities, labels = calibrated_probabilities(member, split, data_root)
        every.append(probabilities)
        own.append({"run": str(member.path), **evaluate_scores(labels, probabilities, task,
                                                               probability_loss(probabilities, labels, multi_label)),
                    "temperature": member.temperature})
        if on_member is not None:
            on_member(i + 1, len(members))
    mean = np.mean(every, axis=0)
    metrics = evaluate_scores(labels, mean, task, probability_loss(mean, labels, multi_label))
    ece = expected_calibration_error(mean, labels, multi_label)
    return EnsembleScores(members[0].config.dataset, split, len(labels), metrics, ece, own)
