"""A `Recording`: the spiking dynamics of one inference, as plain numpy, saved to and loaded from .npz;
and a `RecordingAnalysis`: what the app shows of it (made by `engine.probe.analysis.analyse`).

For every spiking layer: spikes per timestep of up to `max_neurons` neurons (evenly chosen), their
membrane potentials, and firing rates per channel over the whole layer. For every spike-driven
attention block: the map Q·Kᵀ per timestep and head. Plus the input the model saw and its outputs.
Only data types live here (no torch), so the app's views can take them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.errors import UserError

if TYPE_CHECKING:
    from engine.models.energy import EnergyReport


@dataclass
class LayerRecord:
    name: str
    shape: tuple[int, ...]  # the layer's neuron shape per sample, (C, *spatial)
    neuron_index: np.ndarray  # [n] flat indices of the recorded neurons
    spikes: np.ndarray  # [T, n] uint8
    membrane: np.ndarray | None  # [T, n] float32, before reset
    channel_rate: np.ndarray  # [C] mean firing rate of each channel over space and time
    v_threshold: float = 1.0
    v_reset: float = 0.0

    @property
    def firing_rate(self) -> float:
        return float(self.channel_rate.mean())


@dataclass
class Recording:
    timesteps: int
    input: np.ndarray  # [C, *spatial] in [0, 1], what the model saw
    outputs: np.ndarray  # [T, classes] class scores per timestep
    probabilities: np.ndarray  # [classes]
    label_names: list[str] = field(default_factory=list)
    multi_label: bool = False  # probabilities are independent sigmoids (multi-label task), else a softmax
    layers: dict[str, LayerRecord] = field(default_factory=dict)
    attention: dict[str, np.ndarray] = field(default_factory=dict)  # [T, heads, N, N]
    attention_grid: dict[str, tuple[int, ...]] = field(default_factory=dict)  # token grid of each block

    def attention_saliency(self, block: str) -> np.ndarray:
        """Attention each token receives, averaged over queries: [T, heads, *grid]."""
        maps = self.attention[block]
        return maps.mean(axis=2).reshape(maps.shape[0], maps.shape[1], *self.attention_grid[block])

    def firing_rates(self) -> dict[str, float]:
        return {name: layer.firing_rate for name, layer in self.layers.items()}

    # -- persistence ----------------------------------------------------------------------
    def save(self, path: Path | str) -> Path:
        path = Path(path)
        meta = {
            "timesteps": self.timesteps,
            "label_names": self.label_names,
            "multi_label": self.multi_label,
            "layers": {n: {"shape": list(l.shape), "v_threshold": l.v_threshold, "v_reset": l.v_reset,
                           "membrane": l.membrane is not None} for n, l in self.layers.items()},
            "attention_grid": {n: list(g) for n, g in self.attention_grid.items()},
        }
        arrays = {"meta": np.array(json.dumps(meta)), "input": self.input, "outputs": self.outputs,
                  "probabilities": self.probabilities}
        for i, (name, layer) in enumerate(self.layers.items()):
            arrays[f"layer{i}_index"] = layer.neuron_index
            arrays[f"layer{i}_spikes"] = layer.spikes
            arrays[f"layer{i}_rate"] = layer.channel_rate
            if layer.membrane is not None:
                arrays[f"layer{i}_membrane"] = layer.membrane
        for i, maps in enumerate(self.attention.values()):
            arrays[f"attention{i}"] = maps
        np.savez_compressed(path, **arrays)
        return path

    @staticmethod
    def load(path: Path | str) -> "Recording":
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
            meta = json.loads(str(arrays["meta"]))
        except (OSError, ValueError, KeyError) as exc:
            raise UserError(f"{path} is not a SpikeView recording ({exc}).") from exc
        layers = {}
        for i, (name, info) in enumerate(meta["layers"].items()):
            layers[name] = LayerRecord(
                name, tuple(info["shape"]), arrays[f"layer{i}_index"], arrays[f"layer{i}_spikes"],
                arrays.get(f"layer{i}_membrane"), arrays[f"layer{i}_rate"], info["v_threshold"], info["v_reset"],
            )
        grids = {n: tuple(g) for n, g in meta["attention_grid"].items()}
        attention = {name: arrays[f"attention{i}"] for i, name in enumerate(grids)}
        return Recording(meta["timesteps"], arrays["input"], arrays["outputs"], arrays["probabilities"],
                         meta["label_names"], meta.get("multi_label", False), layers, attention, grids)


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


@dataclass
class RecordingAnalysis:
    """A Recording with everything the dynamics views show of it."""

    recording: Recording
    probabilities_over_time: np.ndarray  # [T, classes]: as if the network stopped after t+1 steps
    layer_names: list[str]
    channel_rates: np.ndarray  # [layers, max channels], NaN where a layer has fewer channels
    neuron_rates: dict[str, NeuronRates]
    saliency: dict[str, np.ndarray] = field(default_factory=dict)  # block → uint8 [T, 1 + heads, *input]
    energy: EnergyReport | None = None  # of this inference, when it was measured

    def heads(self, block: str) -> int:
        return int(self.saliency[block].shape[1]) - 1

    def saliency_at(self, block: str, timestep: int, head: int | None = None) -> np.ndarray:
        """Attention received at `timestep` (one head, or the mean of all when None), in [0, 1] at the input's size."""
        return self.saliency[block][timestep, 0 if head is None else head + 1].astype(np.float32) / 255
