"""The Tempotron (Guetig & Sompolinsky 2006) on latency-coded inputs.

A binary Tempotron neuron: V(t) = sum_i w_i K(t - t_i) with the double-exponential PSP kernel K
(tau, tau_s). It should fire (max_t V >= threshold) exactly for lesion slices; on an error the
weights move by lr * sum_{t_i < t_max} K(t_max - t_i), the PSP each input contributed at the time of
the maximal potential. The PSP traces come from each implementation's own neurons (`model.psp`):
the analytic kernel in the custom model, `snn.Synaptic` in snnTorch, two chained LIFNodes in
SpikingJelly. The Tempotron is a single-layer rule: it learns input -> output weights directly,
so the network's hidden layer is not used.
"""
from __future__ import annotations

import numpy as np
import torch

from engine.snndeep.config import ModelConfig, RuleConfig
from engine.snndeep.encoding import latency_encode
from engine.snndeep.metrics import EpochTimer
from engine.snndeep.models import SpikingMLP
from engine.snndeep.rules import EpochCallback, FoldData, RuleOutcome, class_weights
from engine.snndeep.rules.bptt import EVAL_BATCH, batches, validation_auc



class Tempotron:
    """One binary Tempotron: it should fire (max_t V >= threshold) for a lesion and stay silent otherwise."""

    def __init__(self, model: SpikingMLP, n_inputs: int, rule: RuleConfig, mcfg: ModelConfig, seed: int = 0) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.model, self.rule, self.mcfg = model, rule, mcfg
        self.weights = torch.randn(n_inputs, generator=generator) * (0.1 / n_inputs**0.5)

    def potentials(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """PSP traces (T x B x D) and membrane potentials (T x B)."""
        psp = self.model.psp(latency_encode(x, self.mcfg.timesteps), self.rule.tau_psp, self.rule.tau_syn)
        return psp, psp @ self.weights

    def update(self, x: torch.Tensor, y: torch.Tensor, sample_weight: torch.Tensor) -> None:
        psp, potential = self.potentials(x)
        v_max, t_max = potential.max(dim=0)  # B
        error = y.float() - (v_max >= self.mcfg.threshold).float()  # +1 missed spike, -1 false spike
        psp_at_max = psp[t_max, torch.arange(len(y))]  # B x D: each input's PSP at t_max
        self.weights += self.rule.tempotron_lr * (error * sample_weight) @ psp_at_max / len(y)

    @torch.no_grad()
    def scores(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """max_t V - threshold as the score, and whether the neuron fired."""
        v_max = torch.cat([self.potentials(torch.from_numpy(x[i]))[1].max(0).values for i in batches(len(x), EVAL_BATCH)])
        margin = (v_max - self.mcfg.threshold).numpy()
        return margin, (margin >= 0).astype(np.int64)


@torch.no_grad()
def train_tempotron(
    model: SpikingMLP, data: FoldData, rule: RuleConfig, mcfg: ModelConfig,
    on_epoch: EpochCallback | None = None, seed: int = 0,
) -> RuleOutcome:
    rng = np.random.default_rng(seed)
    tempotron = Tempotron(model, data.n_inputs, rule, mcfg, seed)
    weights = torch.tensor(class_weights(data.y_train), dtype=torch.float32)
    x_train, y_train = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    timer, history = EpochTimer(), []
    for epoch in range(rule.epochs):
        timer.start()
        for index in batches(len(y_train), rule.batch_size, rng):
            tempotron.update(x_train[index], y_train[index], weights[y_train[index]])
        timer.stop()
        history.append(validation_auc(data.y_val, tempotron.scores(data.x_val)[0]))
        if on_epoch is not None:
            on_epoch(epoch, history[-1])
    score, pred = tempotron.scores(data.x_test)
    return RuleOutcome(score, pred, timer.seconds, len(y_train), history,
                       notes="single-layer rule: input -> one Tempotron; PSPs from the implementation's neurons")
