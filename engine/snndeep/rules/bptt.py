"""Surrogate-gradient backpropagation through time: rate-coded input, cross-entropy on output spike counts."""
from __future__ import annotations

import logging

import numpy as np
import torch
from torch import nn

from engine.snndeep.config import ModelConfig, RuleConfig
from engine.snndeep.encoding import rate_encode
from engine.snndeep.models import SpikingMLP, linear_over_time
from engine.snndeep.metrics import EpochTimer
from engine.snndeep.rules import EpochCallback, FoldData, RuleOutcome, class_weights

log = logging.getLogger(__name__)
EVAL_BATCH = 512
TIE_BREAK = 0.01  # below one spike: only orders samples with equal spike counts


def batches(n: int, size: int, rng: np.random.Generator | None = None):
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, size):
        yield order[start : start + size]


@torch.no_grad()
def spike_count_scores(model: SpikingMLP, x: np.ndarray, steps: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """P(class 1) from a softmax over output spike counts (ties broken by input current), and the predicted class."""
    generator = torch.Generator().manual_seed(seed)
    logits = []
    for index in batches(len(x), EVAL_BATCH):
        hidden, out = model(rate_encode(torch.from_numpy(x[index]), steps, generator))
        drive = linear_over_time(model.fc2, hidden).mean(0)  # ranks samples whose counts tie (e.g. silent outputs)
        logits.append(out.sum(0) + TIE_BREAK * torch.tanh(drive))
    decision = torch.cat(logits)
    return torch.softmax(decision, dim=1)[:, 1].numpy(), decision.argmax(1).numpy()


def validation_auc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score)) if len(np.unique(y)) == 2 else float("nan")


def train_bptt(
    model: SpikingMLP, data: FoldData, rule: RuleConfig, mcfg: ModelConfig,
    on_epoch: EpochCallback | None = None, seed: int = 0,
) -> RuleOutcome:
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=rule.lr)
    loss_fn = nn.CrossEntropyLoss(weight=torch.tensor(class_weights(data.y_train), dtype=torch.float32))
    timer, history = EpochTimer(), []
    x_train, y_train = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    for epoch in range(rule.epochs):
        model.train()
        timer.start()
        for index in batches(len(y_train), rule.batch_size, rng):
            _, out = model(rate_encode(x_train[index], mcfg.timesteps, generator))
            loss = loss_fn(out.sum(0), y_train[index])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        timer.stop()
        val_score, _ = spike_count_scores(model, data.x_val, mcfg.timesteps)
        history.append(validation_auc(data.y_val, val_score))
        log.debug("bptt epoch %d loss %.4f val auc %.3f", epoch, loss.item(), history[-1])
        if on_epoch is not None:
            on_epoch(epoch, history[-1])
    score, pred = spike_count_scores(model, data.x_test, mcfg.timesteps)
    return RuleOutcome(score, pred, timer.seconds, len(y_train), history)
