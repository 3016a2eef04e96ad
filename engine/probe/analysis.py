"""Read-outs of a `Recording` for display: neuron rates with dead/saturated flags, the channel-rate
matrix of all layers, class scores accumulating over timesteps, attention saliency at the input's
size, and the energy of one inference. Plain numpy/torch; the app only draws what these return."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from engine.data.encoders import encode
from engine.learning.losses import scores_from_outputs
from engine.models.energy import EnergyReport, estimate_energy
from engine.probe.recording import LayerRecord, Recording


@dataclass
class NeuronRates:
    rates: np.ndarray  # [n] firing rate of each recorded neuron over the timesteps
    dead: np.ndarray  # [n] bool: never fired
    saturated: np.ndarray  # [n] bool: fired at every timestep

    @property
    def dead_count(self) -> int:
        return int(self.dead.sum())

    @property
    def saturated_count(self) -> int:
        return int(self.saturated.sum())


def neuron_rates(layer: LayerRecord) -> NeuronRates:
    rates = layer.spikes.astype(np.float32).mean(axis=0)
    return NeuronRates(rates, rates == 0.0, rates == 1.0)


def channel_rate_matrix(recording: Recording) -> tuple[list[str], np.ndarray]:
    """Layer names and a [layers, max channels] matrix of channel rates, NaN where a layer has fewer."""
    names = list(recording.layers)
    width = max((len(l.channel_rate) for l in recording.layers.values()), default=0)
    matrix = np.full((len(names), width), np.nan, dtype=np.float32)
    for row, layer in enumerate(recording.layers.values()):
        matrix[row, :len(layer.channel_rate)] = layer.channel_rate
    return names, matrix


def is_multi_label(recording: Recording) -> bool:
    """Softmax probabilities sum to one; independent sigmoid scores (multi-label) in general do not."""
    return not np.isclose(float(np.sum(recording.probabilities)), 1.0, atol=1e-3)


def accumulated_probabilities(recording: Recording) -> np.ndarray:
    """[T, classes]: the class probabilities the model would give if it stopped after t+1 timesteps."""
    outputs = torch.from_numpy(np.asarray(recording.outputs, dtype=np.float32))[:, None]  # [T, 1, classes]
    multi_label = is_multi_label(recording)
    steps = [scores_from_outputs(outputs[:t + 1], multi_label)[0] for t in range(outputs.shape[0])]
    return torch.stack(steps).numpy()


def attention_heads(recording: Recording, block: str) -> int:
    return int(recording.attention[block].shape[1])


def saliency_at_input(recording: Recording, block: str, timestep: int, head: int | None = None) -> np.ndarray:
    """Attention received per token at `timestep` (one head, or the mean of all when head is None),
    upsampled to the input's spatial size and scaled to [0, 1]."""
    saliency = recording.attention_saliency(block)[timestep]  # [heads, *grid]
    grid = saliency.mean(axis=0) if head is None else saliency[head]
    spatial = tuple(recording.input.shape[1:])
    mode = "bilinear" if len(spatial) == 2 else "trilinear"
    tensor = torch.from_numpy(np.ascontiguousarray(grid, dtype=np.float32))[None, None]
    upsampled = F.interpolate(tensor, size=spatial, mode=mode, align_corners=False)[0, 0].numpy()
    low, high = float(upsampled.min()), float(upsampled.max())
    return (upsampled - low) / (high - low) if high > low else np.zeros_like(upsampled)


@torch.no_grad()
def sample_energy(model: torch.nn.Module, sample: torch.Tensor, timesteps: int, encoder: str = "direct",
                  device: torch.device | str = "cpu") -> EnergyReport:
    """Synaptic operations and energy of one inference on a preprocessed sample [C, *spatial]."""
    x = encode(sample.unsqueeze(0).to(device), timesteps, encoder)
    return estimate_energy(model, x)
