"""Dimension-generic multi-step building blocks: every tensor is [T, B, C, *spatial].

Stateless layers (conv, batch norm) run once on the time-flattened batch [T*B, C, *spatial];
neurons are multi-step LIF nodes (`engine.models.neurons.LIF`, a SpikingJelly `LIFNode` with fused
kernels). `stock=True` builds the same blocks from stock SpikingJelly multi-step layers
(`layer.Conv2d(step_mode='m')`, ..., `neuron.LIFNode`) with identical parameter names, so one state
dict loads into both (the benchmark and a parity test rely on it).
"""
from __future__ import annotations

import torch
from spikingjelly.activation_based import layer, neuron, surrogate
from torch import nn

from engine.models.neurons import LIF

_CONV = {2: nn.Conv2d, 3: nn.Conv3d}
_BN = {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
_STOCK_CONV = {2: layer.Conv2d, 3: layer.Conv3d}
_STOCK_BN = {2: layer.BatchNorm2d, 3: layer.BatchNorm3d}


def lif(tau: float = 2.0, v_threshold: float = 1.0, stock: bool = False) -> neuron.LIFNode:
    """A multi-step LIF neuron (hard reset to 0, detached reset, arctan surrogate): ours, or SpikingJelly's."""
    if not stock:
        return LIF(tau, v_threshold)
    return neuron.LIFNode(
        tau=tau,
        v_threshold=v_threshold,
        detach_reset=True,
        surrogate_function=surrogate.ATan(),
        step_mode="m",
    )


def flatten_time(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(0, 1)


def unflatten_time(x: torch.Tensor, timesteps: int) -> torch.Tensor:
    return x.unflatten(0, (timesteps, -1))


def is_pointwise(conv: nn.Module) -> bool:
    return all(k == 1 for k in conv.kernel_size) and all(s == 1 for s in conv.stride) and conv.groups == 1


def convolve(conv: nn.Module, flat: torch.Tensor) -> torch.Tensor:
    """`conv(flat)`, except that a 1×1 convolution is the matrix product it is when inductor compiles a
    bfloat16 training step on the CPU.

    Inductor then runs it and its two backward products as GEMMs over every pixel of every timestep,
    with the layout change folded into the fused kernels around them, instead of oneDNN's convolution
    on many 7×7 images. Measured on sdt_small (docs/speed.md): 1.12x faster bf16 training; slower in
    fp32 training (0.86x), and far slower (0.14x) in bf16 inference, so those keep the convolution.
    """
    if is_pointwise(conv) and _bf16_training_compiled_on_cpu(flat):
        return nn.functional.linear(flat.movedim(1, -1), conv.weight.flatten(1), conv.bias).movedim(-1, 1)
    return conv(flat)


def _bf16_training_compiled_on_cpu(x: torch.Tensor) -> bool:
    return (torch.compiler.is_compiling() and x.device.type == "cpu" and torch.is_grad_enabled()
            and torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16)


class ConvBN(nn.Module):
    """Convolution + batch norm over all timesteps at once; folds into one convolution for inference."""

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        stride: int = 1,
        groups: int = 1,
    ) -> None:
        super().__init__()
        padding = kernel_size // 2
        self.conv = _CONV[spatial_dims](
            in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=False
        )
        self.bn = _BN[spatial_dims](out_channels)
        self.folded: nn.Module | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = flatten_time(x)
        if self.folded is not None and not self.training:
            return unflatten_time(self.folded(flat), x.shape[0])
        return unflatten_time(self.bn(convolve(self.conv, flat)), x.shape[0])

    @torch.no_grad()
    def fold(self) -> None:
        """Fold batch norm's running statistics into a biased convolution (used in eval mode only)."""
        conv, bn = self.conv, self.bn
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        fused = type(conv)(
            conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
            groups=conv.groups, bias=True,
        ).to(conv.weight.device)
        fused.weight.copy_(conv.weight * scale.reshape(-1, *([1] * (conv.weight.ndim - 1))))
        fused.bias.copy_(bn.bias - bn.running_mean * scale)
        self.folded = fused

    def unfold(self) -> None:
        self.folded = None


class StockConvBN(nn.Module):
    """The reference: the same convolution + batch norm from stock SpikingJelly multi-step layers."""

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        stride: int = 1,
        groups: int = 1,
    ) -> None:
        super().__init__()
        self.conv = _STOCK_CONV[spatial_dims](
            in_channels, out_channels, kernel_size, stride, kernel_size // 2,
            groups=groups, bias=False, step_mode="m",
        )
        self.bn = _STOCK_BN[spatial_dims](out_channels, step_mode="m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


def conv_bn_class(stock: bool) -> type[nn.Module]:
    return StockConvBN if stock else ConvBN
