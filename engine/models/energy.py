"""Energy estimate from counted synaptic operations (the convention of the spiking-transformer papers).

A layer fed with spikes does one accumulate (AC, 0.9 pJ at 45 nm) per spike per synapse; a layer fed
with real values (the stem on the image, the head on spike rates) does multiply-accumulates (MAC,
4.6 pJ). Spike-driven attention counts its Kᵀ·V and Q·(Kᵀ·V) products as ACs scaled by the firing
rate of K and Q. The same network run as a non-spiking one does every operation as a MAC, once
(no timesteps).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from spikingjelly.activation_based import functional, neuron
from torch import nn

from engine.models.spike_driven_transformer import SpikeDrivenSelfAttention

E_AC_PJ = 0.9
E_MAC_PJ = 4.6


@dataclass
class EnergyReport:
    synaptic_ops: float  # ACs per inference (spike-driven)
    macs: float  # MACs per inference (real-valued inputs)
    dense_ops: float  # every operation, once per timestep, as if all inputs were active
    timesteps: int
    energy_pj: float
    ann_energy_pj: float  # the same network as a non-spiking one: dense ops / T, all MACs
    firing_rate: float = float("nan")  # spikes per neuron per timestep, over every spiking neuron

    @property
    def ratio_to_ann(self) -> float:
        return self.energy_pj / self.ann_energy_pj if self.ann_energy_pj else float("nan")

    def to_dict(self) -> dict:
        return {**asdict(self), "energy_uj": self.energy_pj / 1e6, "ann_energy_uj": self.ann_energy_pj / 1e6,
                "ratio_to_ann": self.ratio_to_ann}


def _dense_ops(module: nn.Module, output: torch.Tensor) -> float:
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    kernel = 1
    for k in module.kernel_size:
        kernel *= k
    return output.numel() * (module.in_channels // module.groups) * kernel


def _is_binary(x: torch.Tensor) -> bool:
    return bool(((x == 0) | (x == 1)).all())


class _OpCounter:
    def __init__(self) -> None:
        self.sops = self.macs = self.dense = 0.0
        self.spikes = self.neuron_steps = 0.0

    def neuron_hook(self, _module: nn.Module, _inputs: tuple, spikes: torch.Tensor) -> None:
        self.spikes += float(spikes.sum(dtype=torch.float64))  # exact for bf16 spikes too
        self.neuron_steps += spikes.numel()

    def layer_hook(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        x = inputs[0]
        dense = _dense_ops(module, output)
        self.dense += dense
        if _is_binary(x):
            self.sops += dense * float((x != 0).float().mean())
        else:
            self.macs += dense

    def attention_hooks(self, attention: SpikeDrivenSelfAttention) -> list:
        rates: dict[str, float] = {}

        def remember(name: str):
            def hook(_m, _i, spikes: torch.Tensor) -> None:
                rates[name] = float(spikes.float().mean())
                if name == "q":  # [T, B, C, *spatial]; two products of N·d·d per head
                    tokens = spikes[0, 0, 0].numel()
                    channels = spikes.shape[2]
                    per_product = spikes.shape[0] * spikes.shape[1] * tokens * channels * (channels // attention.heads)
                    self.dense += 2 * per_product
                    self._pending = (per_product, rates)

            return hook

        return [attention.lif_q.register_forward_hook(remember("q")),
                attention.lif_k.register_forward_hook(remember("k"))]

    def settle_attention(self) -> None:
        pending = getattr(self, "_pending", None)
        if pending:
            per_product, rates = pending
            self.sops += per_product * (rates.get("k", 0.0) + rates.get("q", 0.0))
            self._pending = None


@torch.no_grad()
def estimate_energy(model: nn.Module, x: torch.Tensor) -> EnergyReport:
    """Count operations on one encoded batch x [T, B, C, *spatial]; figures are per sample."""
    counter = _OpCounter()
    handles = []
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Conv3d, nn.Linear)):
            handles.append(module.register_forward_hook(counter.layer_hook))
        if isinstance(module, neuron.BaseNode):
            handles.append(module.register_forward_hook(counter.neuron_hook))
        if isinstance(module, SpikeDrivenSelfAttention):
            handles += counter.attention_hooks(module)
            handles.append(module.register_forward_hook(lambda *_: counter.settle_attention()))
    was_training = model.training
    model.eval()
    try:
        model(x)
    finally:
        functional.reset_net(model)
        model.train(was_training)
        for handle in handles:
            handle.remove()
    timesteps, batch = x.shape[0], x.shape[1]
    sops, macs, dense = counter.sops / batch, counter.macs / batch, counter.dense / batch
    firing_rate = counter.spikes / counter.neuron_steps if counter.neuron_steps else float("nan")
    return EnergyReport(sops, macs, dense, timesteps, E_AC_PJ * sops + E_MAC_PJ * macs,
                        E_MAC_PJ * dense / timesteps, firing_rate)
