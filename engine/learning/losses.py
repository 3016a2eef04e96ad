"""Losses on per-timestep outputs [T, B, classes]: TET (Deng et al. 2022) and plain CE on the mean.

TET: (1 - λ) · mean_t CE(o_t, y) + λ · mean_t MSE(o_t, φ). Multi-label tasks use binary cross
entropy in place of CE, in both losses. `LossTerms` adds what both can use: label smoothing, class
weights (`balanced_class_weights`) and soft targets (mixup: a second target and its weight).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from engine.errors import UserError
from engine.options import LOSSES


@dataclass
class LossTerms:
    """The classification loss's extras: label smoothing, class weights [classes], a mixup partner."""

    label_smoothing: float = 0.0
    class_weights: torch.Tensor | None = None
    mixed_target: torch.Tensor | None = None  # the partner images' labels under mixup
    mix: float = 1.0  # weight of the own labels (1: no mixup)


def balanced_class_weights(labels: np.ndarray, num_classes: int, multi_label: bool) -> torch.Tensor:
    """Inverse-frequency weights, normalised to a mean of 1 (multi-label: the positive-label weight
    n_negative / n_positive of each label, for BCE's `pos_weight`)."""
    labels = labels.reshape(len(labels), -1)
    if multi_label:
        positives = labels.sum(0).astype(np.float64)
        return torch.tensor((len(labels) - positives) / np.maximum(positives, 1), dtype=torch.float32)
    counts = np.bincount(labels[:, 0], minlength=num_classes).astype(np.float64)
    weights = len(labels) / (num_classes * np.maximum(counts, 1))
    return torch.tensor(weights / weights.mean(), dtype=torch.float32)


def _single_target_loss(logits: torch.Tensor, target: torch.Tensor, multi_label: bool,
                        terms: LossTerms) -> torch.Tensor:
    if multi_label:
        soft = target.float() * (1 - terms.label_smoothing) + 0.5 * terms.label_smoothing
        return F.binary_cross_entropy_with_logits(logits, soft, pos_weight=terms.class_weights)
    return F.cross_entropy(logits, target[:, 0], weight=terms.class_weights, label_smoothing=terms.label_smoothing)


def _classification_loss(logits: torch.Tensor, target: torch.Tensor, multi_label: bool,
                         terms: LossTerms | None = None) -> torch.Tensor:
    terms = terms or LossTerms()
    loss = _single_target_loss(logits, target, multi_label, terms)
    if terms.mixed_target is None:
        return loss
    return terms.mix * loss + (1 - terms.mix) * _single_target_loss(logits, terms.mixed_target, multi_label, terms)


def tet_loss(outputs: torch.Tensor, target: torch.Tensor, multi_label: bool,
             lam: float = 0.05, phi: float = 1.0, terms: LossTerms | None = None) -> torch.Tensor:
    timesteps = outputs.shape[0]
    per_step = torch.stack([_classification_loss(outputs[t], target, multi_label, terms) for t in range(timesteps)])
    regulariser = F.mse_loss(outputs, torch.full_like(outputs, phi))
    return (1 - lam) * per_step.mean() + lam * regulariser


def mean_output_loss(outputs: torch.Tensor, target: torch.Tensor, multi_label: bool,
                     terms: LossTerms | None = None) -> torch.Tensor:
    return _classification_loss(outputs.mean(0), target, multi_label, terms)


def training_loss(name: str, outputs: torch.Tensor, target: torch.Tensor, multi_label: bool,
                  lam: float = 0.05, phi: float = 1.0, terms: LossTerms | None = None) -> torch.Tensor:
    if name == "tet":
        return tet_loss(outputs, target, multi_label, lam, phi, terms)
    if name == "ce":
        return mean_output_loss(outputs, target, multi_label, terms)
    raise UserError(f"Unknown loss '{name}'; choose one of: {', '.join(LOSSES)}.")
