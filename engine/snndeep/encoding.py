"""Spike encoders: inputs in [0, 1] (B x D) to spike trains (T x B x D)."""
from __future__ import annotations

import torch

LATENCY_MIN_INTENSITY = 0.05  # inputs below this stay silent under latency coding


def rate_encode(x: torch.Tensor, steps: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Bernoulli (Poisson-like) rate code: each step spikes with probability x."""
    noise = torch.rand((steps, *x.shape), generator=generator, dtype=x.dtype)
    return (noise < x).to(x.dtype)


def latency_encode(x: torch.Tensor, steps: int) -> torch.Tensor:
    """Time-to-first-spike code: one spike per input, brighter inputs earlier (t = (1 - x)(T - 1))."""
    times = torch.round((1.0 - x.clamp(0, 1)) * (steps - 1)).long()
    spikes = torch.zeros((steps, *x.shape), dtype=x.dtype)
    spikes.scatter_(0, times.unsqueeze(0), 1.0)
    return spikes * (x >= LATENCY_MIN_INTENSITY).to(x.dtype)


def first_spike_time(spikes: torch.Tensor) -> torch.Tensor:
    """Index of each neuron's first spike (T x ... -> ...); T when it never fires."""
    steps = spikes.shape[0]
    fired = spikes > 0
    first = torch.argmax(fired.to(torch.int8), dim=0)
    return torch.where(fired.any(0), first, torch.full_like(first, steps))
