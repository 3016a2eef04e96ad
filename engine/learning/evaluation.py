"""Scoring a model on a whole split: probabilities for every sample, the loss, and the MedMNIST metrics."""
from __future__ import annotations

import numpy as np
import torch
from spikingjelly.activation_based import functional

from engine.data.encoders import encode
from engine.data.pipeline import SplitTensors, to_unit_float
from engine.data.spec import DatasetSpec
from engine.device import autocast_for
from engine.learning.distributed import SINGLE, Distributed
from engine.learning.losses import training_loss
from engine.learning.metrics import evaluate_scores
from engine.models.outputs import scores_from_outputs
from engine.options import TrainConfig


@torch.no_grad()
def predict_scores(model: torch.nn.Module, data: SplitTensors, spec: DatasetSpec, timesteps: int,
                   encoder: str, device: torch.device, batch_size: int = 256) -> tuple[np.ndarray, float]:
    """Probabilities for every sample of a split and the mean loss (CE, or BCE for multi-label)."""
    model.eval()
    scores, loss_sum = [], 0.0
    for start in range(0, len(data), batch_size):
        images = to_unit_float(data.images[start:start + batch_size]).to(device)
        labels = data.labels[start:start + batch_size].to(device)
        with autocast_for(device):
            outputs = model(encode(images, timesteps, encoder)).float()
        functional.reset_net(model)
        loss_sum += training_loss("ce", outputs, labels, spec.multi_label).item() * len(labels)
        scores.append(scores_from_outputs(outputs, spec.multi_label).cpu().numpy())
    return np.concatenate(scores), loss_sum / max(len(data), 1)


def evaluate_split(model: torch.nn.Module, data: SplitTensors, spec: DatasetSpec, config: TrainConfig,
                   device: torch.device, group: Distributed = SINGLE) -> dict:
    """ACC, AUC (top-5 where it applies) and the loss of a model on one split.

    With several processes each scores a contiguous share, and the scores are gathered in order, so the
    metrics are those of the whole split.
    """
    start, stop = group.share(len(data))
    scores, loss = predict_scores(model, data.window(start, stop), spec, config.timesteps, config.encoder, device,
                                  config.eval_batch_size)
    if group.enabled:
        scores = group.gather_rows(scores)
        loss = group.sum(loss * (stop - start))[0] / max(len(data), 1)
    return evaluate_scores(data.labels.numpy(), scores, spec.task, loss)
