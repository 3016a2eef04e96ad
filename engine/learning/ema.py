"""An exponential moving average of a model's weights (as in timm's ModelEmaV2), evaluated in their place.

Floating-point parameters and buffers (batch-norm statistics) are averaged after every optimisation
step; integer buffers are copied. The decay warms up as min(decay, (1 + n) / (10 + n)) over the first
steps, so early weights do not linger in the average.
"""
from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage:
    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.updates = 0
        self.model = copy.deepcopy(model).eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        decay = self.current_decay()
        self.updates += 1
        for average, value in zip(self.model.state_dict().values(), model.state_dict().values()):
            if average.dtype.is_floating_point:
                average.lerp_(value.detach(), 1 - decay)
            else:
                average.copy_(value)
