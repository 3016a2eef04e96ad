"""Read-outs of a `Recording` for display, computed once by `analyse` (off the GUI thread):
class probabilities accumulating over timesteps, the channel-rate matrix of all layers, each
layer's dead and saturated neurons, and every attention block's saliency at the input's size.
Plain numpy in the result; the app only draws it.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from engine.data.encoders import encode
from engine.models.energy import EnergyReport, estimate_energy
from engine.models.outputs import scores_from_outputs
from engine.probe.recording import LayerRecord, NeuronRates, Recording, RecordingAnalysis


def analyse(recording: Recording, energy: EnergyReport | None = None) -> RecordingAnalysis:
    names, matrix = channel_rate_matrix(recording)
    return RecordingAnalysis(
        recording=recording,
        probabilities_over_time=accumulated_probabilities(recording),
        layer_names=names,
        channel_rates=matrix,
        neuron_rates={name: neuron_rates(layer) for name, layer in recording.layers.items()},
        saliency={block: saliency_over_time(recording, block) for block in recording.attention},
        energy=energy,
    )


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


def accumulated_probabilities(recording: Recording) -> np.ndarray:
    """[T, classes]: the class probabilities the model would give if it stopped after t+1 timesteps."""
    outputs = torch.from_numpy(np.asarray(recording.outputs, dtype=np.float32))[:, None]  # [T, 1, classes]
    steps = [scores_from_outputs(outputs[:t + 1], recording.multi_label)[0] for t in range(outputs.shape[0])]
    return torch.stack(steps).numpy()


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


def saliency_over_time(recording: Recording, block: str) -> np.ndarray:
    """uint8 [T, 1 + heads, *input]: `saliency_at_input` for the mean of the heads, then each head."""
    heads = int(recording.attention[block].shape[1])
    maps = [[saliency_at_input(recording, block, t, head) for head in (None, *range(heads))]
            for t in range(recording.timesteps)]
    return np.round(np.asarray(maps, dtype=np.float32) * 255).astype(np.uint8)


@torch.no_grad()
def sample_energy(model: torch.nn.Module, sample: torch.Tensor, timesteps: int, encoder: str = "direct",
                  device: torch.device | str = "cpu") -> EnergyReport:
    """Synaptic operations and energy of one inference on a preprocessed sample [C, *spatial]."""
    x = encode(sample.unsqueeze(0).to(device), timesteps, encoder)
    return estimate_energy(model, x)
