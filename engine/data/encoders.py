"""Spike encoders: an image batch [B, C, *spatial] in [0, 1] → a sequence [T, B, C, *spatial]."""
from __future__ import annotations

import torch

from engine.data.transforms import BatchPart
from engine.errors import UserError
from engine.options import ENCODERS


def encode(batch: torch.Tensor, timesteps: int, method: str = "direct",
           gen: torch.Generator | None = None, part: BatchPart | None = None) -> torch.Tensor:
    """With `part`, `batch` holds those rows of a larger batch, and random spikes are drawn for the whole."""
    if method == "direct":  # the analogue image at every step; the first conv turns it into currents
        return batch.unsqueeze(0).expand(timesteps, *batch.shape)
    if method == "poisson":  # Bernoulli spikes with probability = intensity, independently per step
        part = part or BatchPart.whole(len(batch))
        noise = torch.rand((timesteps, part.total, *batch.shape[1:]), generator=gen, device="cpu")
        noise = noise[:, part.rows].to(batch.device)
        return (noise < batch.unsqueeze(0)).to(batch.dtype)
    if method == "latency":  # one spike, earlier for brighter voxels; zero intensity never fires
        fire_at = torch.round((1 - batch) * (timesteps - 1)).long()
        steps = torch.arange(timesteps, device=batch.device).view(-1, *([1] * batch.ndim))
        return ((steps == fire_at.unsqueeze(0)) & (batch.unsqueeze(0) > 0)).to(batch.dtype)
    raise UserError(f"Unknown spike encoder '{method}'; choose one of: {', '.join(ENCODERS)}.")
