"""Scoring a model on a whole split: probabilities for every sample, the loss, and the MedMNIST metrics.

Test-time augmentation (`TrainConfig.tta`) averages the time-averaged scores (logits) of each view
(the image, its mirror image, each moved a pixel: `tta_views`) before the softmax; the loss is the CE
of those averaged logits.
"""
from __future__ import annotations

import numpy as np
import torch
from spikingjelly.activation_based import functional

from engine.data.encoders import encode
from engine.data.pipeline import SplitTensors, to_unit_float
from engine.data.spec import DatasetSpec
from engine.data.transforms import TtaView, tta_views
from engine.device import autocast_for
from engine.learning.distributed import SINGLE, Distributed
from engine.learning.losses import mean_output_loss
from engine.learning.metrics import evaluate_scores
from engine.models.outputs import probabilities_from_logits
from engine.options import TrainConfig


@torch.no_grad()
def predict_logits(model: torch.nn.Module, data: SplitTensors, spec: DatasetSpec, timesteps: int, encoder: str,
                   device: torch.device, batch_size: int = 256, views: list[TtaView] | None = None,
                   precision: str = "auto") -> tuple[np.ndarray, float]:
    """Time- and view-averaged scores [N, classes] of every sample of a split, and the mean loss (CE, or
    BCE for multi-label). `views`: those averaged (default the image alone); `precision`: the
    number format of the forward pass (`engine.device.autocast_for`)."""
    model.eval()
    logits, loss_sum = [], 0.0
    for start in range(0, len(data), batch_size):
        images = to_unit_float(data.images[start:start + batch_size]).to(device)
        labels = data.labels[start:start + batch_size].to(device)
        outputs = []
        for view in views or [TtaView()]:
            with autocast_for(device, precision):
                outputs.append(model(encode(view.apply(images), timesteps, encoder)).float().mean(0))
            functional.reset_net(model)
        mean = torch.stack(outputs).mean(0)
        loss_sum += mean_output_loss(mean[None], labels, spec.multi_label).item() * len(labels)
        logits.append(mean.cpu().numpy())
    return np.concatenate(logits), loss_sum / max(len(data), 1)


def predict_scores(model: torch.nn.Module, data: SplitTensors, spec: DatasetSpec, timesteps: int,
                   encoder: str, device: torch.device, batch_size: int = 256,
                   views: list[TtaView] | None = None) -> tuple[np.ndarray, float]:
    """Probabilities for every sample of a split and the mean loss (see `predict_logits`)."""
    logits, loss = predict_logits(model, data, spec, timesteps, encoder, device, batch_size, views)
    return probabilities_from_logits(torch.from_numpy(logits), spec.multi_label).numpy(), loss


def split_logits(model: torch.nn.Module, data: SplitTensors, spec: DatasetSpec, config: TrainConfig,
                 device: torch.device, group: Distributed = SINGLE) -> tuple[np.ndarray, float]:
    """`predict_logits` as a run's config asks (its timesteps, encoder and test-time augmentation).

    With several processes each scores a contiguous share, and the logits are gathered in order, so
    they (and the loss) are those of the whole split.
    """
    start, stop = group.share(len(data))
    logits, loss = predict_logits(model, data.window(start, stop), spec, config.timesteps, config.encoder, device,
                                  config.eval_batch_size, tta_views(spec.labels, config.tta, spec.spatial_dims),
                                  config.precision)
    if group.enabled:
        logits = group.gather_rows(logits)
        loss = group.sum(loss * (stop - start))[0] / max(len(data), 1)
    return logits, loss


def metrics_from_logits(logits: np.ndarray, loss: float, data: SplitTensors, spec: DatasetSpec) -> dict:
    scores = probabilities_from_logits(torch.from_numpy(logits), spec.multi_label).numpy()
    return evaluate_scores(data.labels.numpy(), scores, spec.task, loss)


def evaluate_split(model: torch.nn.Module, data: SplitTensors, spec: DatasetSpec, config: TrainConfig,
                   device: torch.device, group: Distributed = SINGLE) -> dict:
    """ACC, AUC (top-5 where it applies) and the loss of a model on one split (see `split_logits`)."""
    return metrics_from_logits(*split_logits(model, data, spec, config, device, group), data, spec)
