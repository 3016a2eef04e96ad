"""Record a model's dynamics with forward hooks, without touching the model's code.

A `Recorder` watches the module types it is given, as SpikingJelly's monitors do: spiking neurons
(spikes and membrane potentials; by default every SpikingJelly neuron) and attention blocks (their
Q·Kᵀ maps; by default the spike-driven self-attention, whose `attention_map` tap it switches on).
Use it as a context manager so that the hooks are always removed. A compiled model is recorded
through its eager module (`engine.models.compiled.eager_module`): the same weights, with hooks.
"""
from __future__ import annotations

import numpy as np
import torch
from spikingjelly.activation_based import functional, neuron
from torch import nn

from engine.data.encoders import encode
from engine.models.compiled import eager_module
from engine.models.outputs import scores_from_outputs
from engine.models.spike_driven_transformer import SpikeDrivenSelfAttention
from engine.probe.recording import LayerRecord, Recording

DEFAULT_MAX_NEURONS = 4096
NEURON_TYPES: tuple[type[nn.Module], ...] = (neuron.BaseNode,)
ATTENTION_TYPES: tuple[type[nn.Module], ...] = (SpikeDrivenSelfAttention,)


def evenly_spaced(total: int, cap: int) -> np.ndarray:
    if total <= cap:
        return np.arange(total)
    return np.linspace(0, total - 1, cap).round().astype(np.int64)


class Recorder:
    """Hooks that capture the first sample of a batch; `max_neurons` bounds memory per layer.

    `neuron_types`: modules whose output is spikes [T, B, C, *spatial] (membrane from `v_seq`).
    `attention_types`: modules with an `attention_map` tap returning Q·Kᵀ [T, B, heads, N, N] when
    enabled; the token grid is read from their input [T, B, C, *grid].
    """

    def __init__(self, model: nn.Module, max_neurons: int = DEFAULT_MAX_NEURONS, membrane: bool = True,
                 neuron_types: tuple[type[nn.Module], ...] = NEURON_TYPES,
                 attention_types: tuple[type[nn.Module], ...] = ATTENTION_TYPES) -> None:
        model = eager_module(model)
        self.max_neurons = max_neurons
        self.membrane = membrane
        self.layers: dict[str, LayerRecord] = {}
        self.attention: dict[str, np.ndarray] = {}
        self.grids: dict[str, tuple[int, ...]] = {}
        self._handles: list = []
        self._neurons = {n: m for n, m in model.named_modules() if isinstance(m, neuron_types)}
        self._attention = {n: m for n, m in model.named_modules() if isinstance(m, attention_types)}
        self._saved_store_v = {n: m.store_v_seq for n, m in self._neurons.items()}

    def __enter__(self) -> "Recorder":
        for name, node in self._neurons.items():
            node.store_v_seq = self.membrane
            self._handles.append(node.register_forward_hook(self._neuron_hook(name)))
        for name, block in self._attention.items():
            self._handles.append(block.register_forward_pre_hook(self._grid_hook(name)))
            block.attention_map.enabled = True
            self._handles.append(block.attention_map.register_forward_hook(self._attention_hook(name)))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        for name, node in self._neurons.items():
            node.store_v_seq = self._saved_store_v[name]
        for block in self._attention.values():
            block.attention_map.enabled = False

    def _neuron_hook(self, name: str):
        def hook(node: nn.Module, _inputs, spikes: torch.Tensor) -> None:
            first = spikes[:, 0].detach().float()  # [T, C, *spatial]
            flat = first.flatten(1)
            index = evenly_spaced(flat.shape[1], self.max_neurons)
            membrane = None
            if self.membrane and getattr(node, "v_seq", None) is not None:
                membrane = node.v_seq[:, 0].detach().float().flatten(1)[:, index].cpu().numpy()
            channel_rate = first.transpose(0, 1).flatten(1).mean(1).cpu().numpy()
            self.layers[name] = LayerRecord(
                name, tuple(first.shape[1:]), index, flat[:, index].to(torch.uint8).cpu().numpy(),
                membrane, channel_rate, float(node.v_threshold), float(node.v_reset or 0.0),
            )

        return hook

    def _grid_hook(self, name: str):
        def hook(_module: nn.Module, inputs: tuple) -> None:
            self.grids[name] = tuple(inputs[0].shape[3:])

        return hook

    def _attention_hook(self, name: str):
        def hook(_module: nn.Module, _inputs, maps: torch.Tensor | None) -> None:
            if maps is not None:
                self.attention[name] = maps[:, 0].detach().float().cpu().numpy()  # [T, heads, N, N]

        return hook


class SpikeCounter:
    """Counts the spikes every spiking neuron fires while it is entered (forward hooks, removed on exit)."""

    def __init__(self, model: nn.Module, neuron_types: tuple[type[nn.Module], ...] = NEURON_TYPES) -> None:
        self._neurons = {n: m for n, m in model.named_modules() if isinstance(m, neuron_types)}
        self.counts: dict[str, int] = {}
        self._handles: list = []

    def __enter__(self) -> "SpikeCounter":
        self.counts = dict.fromkeys(self._neurons, 0)
        for name, node in self._neurons.items():
            self._handles.append(node.register_forward_hook(self._hook(name)))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _hook(self, name: str):
        def hook(_node: nn.Module, _inputs, spikes: torch.Tensor) -> None:
            self.counts[name] += int(torch.count_nonzero(spikes))

        return hook

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def silent_layers(self) -> list[str]:
        return [name for name, count in self.counts.items() if count == 0]


@torch.no_grad()
def record_sample(model: nn.Module, sample: torch.Tensor, timesteps: int, encoder: str = "direct",
                  device: torch.device | str = "cpu", label_names: list[str] | None = None,
                  multi_label: bool = False, max_neurons: int = DEFAULT_MAX_NEURONS) -> Recording:
    """Run one preprocessed sample [C, *spatial] through the model (its eager module) and record everything."""
    model = eager_module(model)
    was_training = model.training
    model.eval()
    x = encode(sample.unsqueeze(0).to(device), timesteps, encoder)
    with Recorder(model, max_neurons) as recorder:
        outputs = model(x).float()
    functional.reset_net(model)
    model.train(was_training)
    return Recording(
        timesteps=timesteps,
        input=sample.cpu().numpy(),
        outputs=outputs[:, 0].cpu().numpy(),
        probabilities=scores_from_outputs(outputs, multi_label)[0].cpu().numpy(),
        label_names=list(label_names or []),
        multi_label=multi_label,
        layers=recorder.layers,
        attention=recorder.attention,
        attention_grid=recorder.grids,
    )
