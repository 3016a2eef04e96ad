"""What a model's outputs mean: per-timestep scores [T, B, classes] to class probabilities, and
probabilities to decisions, per MedMNIST task.

Probabilities are a softmax of the time-averaged scores (sigmoid per label for multi-label tasks).
Decisions follow the MedMNIST metrics: binary tasks threshold the last column, multi-label tasks
threshold every label, other tasks take the most probable class.
"""
from __future__ import annotations

import numpy as np
import torch


def scores_from_outputs(outputs: torch.Tensor, multi_label: bool) -> torch.Tensor:
    """Class probabilities [B, classes] from per-timestep outputs [T, B, classes]."""
    return probabilities_from_logits(outputs.float().mean(0), multi_label)


def probabilities_from_logits(logits: torch.Tensor, multi_label: bool, temperature: float = 1.0) -> torch.Tensor:
    """Probabilities from time-averaged scores [B, classes], divided by a calibration temperature first."""
    scaled = logits / temperature
    return torch.sigmoid(scaled) if multi_label else torch.softmax(scaled, dim=-1)


def predicted_classes(scores: np.ndarray, task: str, threshold: float = 0.5) -> np.ndarray:
    """Decisions from probabilities [N, classes]: [N] class indices, or [N, labels] 0/1 for multi-label."""
    if task.startswith("multi-label"):
        return (scores > threshold).astype(np.int64)
    if task == "binary-class":
        return (scores[:, -1] > threshold).astype(np.int64)
    return scores.argmax(axis=1)
