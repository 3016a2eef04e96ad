"""The engine's multi-step LIF neuron: SpikingJelly's `LIFNode`, computed by a kernel of our own.

`LIF` is a `spikingjelly.activation_based.neuron.LIFNode` (hard reset to 0, detached reset, arctan
surrogate), so `functional.reset_net`, `store_v_seq`, monitors and the engine's `Recorder` see the
node they know. Only the multi-step update is replaced by `lif_multi_step`, which picks a kernel for
the tensor it is given:

- on a CUDA tensor with Triton installed, the fused Triton kernels of `engine.models.lif_triton`
  (forward and surrogate backward each one pass over T, the membrane kept in registers);
- anywhere else, `lif_torch`: the update written as plain tensor operations over T with the arctan
  surrogate as an autograd function. Under `torch.compile` inductor fuses it, with the batch norm
  before it, into one C++ loop per layer (forward and backward), which is the compiled CPU path.

Every kernel computes exactly SpikingJelly's arithmetic (`h = v + (x - v) / tau`, spike where
`h - v_threshold >= 0`, `v = (1 - spike) * h`), so spikes agree with the stock node bit for bit on
the CPU; gradients agree to rounding.
"""
from __future__ import annotations

import functools
import importlib.util
import math

import torch
from spikingjelly.activation_based import neuron, surrogate

ALPHA = 2.0  # SpikingJelly's ATan() default: surrogate gradient alpha / 2 / (1 + (pi / 2 * alpha * x)^2)


def atan_surrogate_gradient(x: torch.Tensor, alpha: float = ALPHA) -> torch.Tensor:
    z = x * (math.pi / 2 * alpha)
    return (alpha / 2) / (1 + z * z)


class ATanSpike(torch.autograd.Function):
    """Heaviside forward, arctan surrogate backward (SpikingJelly's `ATan`, traceable by torch.compile)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        return grad * atan_surrogate_gradient(x, ctx.alpha), None


def lif_torch(x_seq: torch.Tensor, v: torch.Tensor, tau: float, v_threshold: float, alpha: float = ALPHA,
              store_v_seq: bool = False, spike_dtype: torch.dtype | None = None
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Multi-step LIF as tensor operations: (spikes [T, ...], last membrane, membrane per step or None).

    The membrane is float32 (when `v` is); the spikes come in `spike_dtype`, by default the input's:
    0 and 1 are exact in bfloat16, and under bf16 autocast the next layer then reads half the bytes
    with no cast in between (compiled bf16 training of sdt_small: 1.12x faster with 1×1 convolutions,
    1.02x beside the GEMMs `engine.models.layers.convolve` makes of them; eager bf16 gains too).
    """
    spike_dtype = spike_dtype or x_seq.dtype
    spikes, voltages = [], []
    for x in x_seq.unbind(0):
        h = v + (x - v) / tau
        spike = ATanSpike.apply(h - v_threshold, alpha)
        v = (1.0 - spike.detach()) * h
        spikes.append(spike.to(spike_dtype))
        if store_v_seq:
            voltages.append(v)
    return torch.stack(spikes), v, (torch.stack(voltages) if store_v_seq else None)


@functools.cache
def triton_available() -> bool:
    """Whether Triton can be imported (it is only ever used on CUDA tensors; CPU installs lack it)."""
    return importlib.util.find_spec("triton") is not None


def uses_triton(x: torch.Tensor, store_v_seq: bool = False) -> bool:
    """The Triton kernels run on CUDA tensors, outside torch.compile (inductor makes its own kernels
    there), and not where a membrane recording would need gradients (the kernel's v_seq has none)."""
    recording_with_grad = store_v_seq and torch.is_grad_enabled() and x.requires_grad
    return x.is_cuda and triton_available() and not torch.compiler.is_compiling() and not recording_with_grad


def lif_multi_step(x_seq: torch.Tensor, v: torch.Tensor, tau: float, v_threshold: float, alpha: float = ALPHA,
                   store_v_seq: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The multi-step LIF update with the best kernel for `x_seq` (see the module's docstring)."""
    if uses_triton(x_seq, store_v_seq):
        from engine.models.lif_triton import lif_triton

        return lif_triton(x_seq, v, tau, v_threshold, alpha, store_v_seq)
    return lif_torch(x_seq, v, tau, v_threshold, alpha, store_v_seq)


class LIF(neuron.LIFNode):
    """SpikingJelly's multi-step LIF node whose update runs in `lif_multi_step`."""

    def __init__(self, tau: float = 2.0, v_threshold: float = 1.0) -> None:
        super().__init__(tau=tau, v_threshold=v_threshold, v_reset=0.0, detach_reset=True,
                         surrogate_function=surrogate.ATan(alpha=ALPHA), step_mode="m")

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        v = self.v
        if not isinstance(v, torch.Tensor) or v.shape != x_seq.shape[1:]:
            v = torch.zeros_like(x_seq[0], dtype=torch.float32)  # after reset_net: v is the reset value 0.0
        spikes, v_last, v_seq = lif_multi_step(x_seq, v, self.tau, self.v_threshold, ALPHA, self.store_v_seq)
        self.v = v_last
        self.v_seq = v_seq
        return spikes
