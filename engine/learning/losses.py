"""Losses on per-timestep outputs [T, B, classes]: TET (Deng et al. 2022) and plain CE on the mean.

TET: (1 - λ) · mean_t CE(o_t, y) + λ · mean_t MSE(o_t, φ). Multi-label tasks use binary cross
entropy in place of CE, in both losses.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.errors import UserError
from engine.options import LOSSES


def _classification_loss(logits: torch.Tensor, target: torch.Tensor, multi_label: bool) -> torch.Tensor:
    if multi_label:
        return F.binary_cross_entropy_with_logits(logits, target.float())
    return F.cross_entropy(logits, target[:, 0])


def tet_loss(outputs: torch.Tensor, target: torch.Tensor, multi_label: bool,
             lam: float = 0.05, phi: float = 1.0) -> torch.Tensor:
    timesteps = outputs.shape[0]
    per_step = torch.stack([_classification_loss(outputs[t], target, multi_label) for t in range(timesteps)])
    regulariser = F.mse_loss(outputs, torch.full_like(outputs, phi))
    return (1 - lam) * per_step.mean() + lam * regulariser


def mean_output_loss(outputs: torch.Tensor, target: torch.Tensor, multi_label: bool) -> torch.Tensor:
    return _classification_loss(outputs.mean(0), target, multi_label)


def training_loss(name: str, outputs: torch.Tensor, target: torch.Tensor, multi_label: bool,
                  lam: float = 0.05, phi: float = 1.0) -> torch.Tensor:
    if name == "tet":
        return tet_loss(outputs, target, multi_label, lam, phi)
    if name == "ce":
        return mean_output_loss(outputs, target, multi_label)
    raise UserError(f"Unknown loss '{name}'; choose one of: {', '.join(LOSSES)}.")
