"""A spike-driven transformer for 2D images and 3D volumes (in the spirit of Meta-SpikeFormer).

Conv stages of multi-step LIF neurons, then spike-driven self-attention stages. Every block adds to
a residual stream of membrane potentials (membrane shortcut: LIF → conv → BN, then add), so only
spikes ever enter a convolution after the stem. Attention uses binary Q, K, V and no softmax:
Q·(Kᵀ·V) is computed with masks and additions. The head averages class scores over timesteps.

`shortcut="spike"` builds the alternative the ablations compare with (the SEW-ResNet / Spikformer
"spike shortcut"): every residual branch ends in a LIF and its spikes are added to the stream, which
then carries spike counts; the branches' convolutions read that stream directly, so they see
integers, not binary spikes.

One definition serves 2D and 3D (`spatial_dims`); tensors are [T, B, C, *spatial] throughout.

Resolution: by default the stem strides so that the first conv stage sees 14 pixels a side in 2D (see
`stem_stride`). `stem_stride=1, attention_stride=2` keeps the first stage at the full 28 pixels and
downsamples before the attention stage instead, so attention still sees 7 × 7 tokens; the weights are
the same, the conv stages cost about 2.5x more.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from engine.models.layers import conv_bn_class, lif


SHORTCUTS = ("membrane", "spike")


@dataclass(frozen=True)
class SDTConfig:
    in_channels: int
    num_classes: int
    spatial_dims: int = 2
    timesteps: int = 4
    input_size: int = 28
    dims: tuple[int, int, int] = (32, 64, 128)
    conv_depth: int = 1
    depth: int = 1
    heads: int = 4
    mlp_ratio: float = 4.0
    tau: float = 2.0
    attention_scale: float = 0.125
    shortcut: str = "membrane"  # membrane | spike (see the module's docstring)
    stem_stride: int | None = None  # None: `stem_stride(input_size, spatial_dims)`
    attention_stride: int = 1  # stride of the downsampling before the attention stage
    stock: bool = False

    def __post_init__(self) -> None:
        if self.shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be one of {', '.join(SHORTCUTS)}, not '{self.shortcut}'")
        if (self.stem_stride is not None and self.stem_stride < 1) or self.attention_stride < 1:
            raise ValueError("stem_stride and attention_stride must be whole numbers of at least 1")

    def to_dict(self) -> dict:
        return asdict(self)


def stem_stride(input_size: int, spatial_dims: int) -> int:
    """The stem's stride: the first conv stage sees at most 14 pixels a side in 2D, 7 voxels in 3D.

    On 28-pixel MedMNIST that gives 14 → 7 → 7 (49 attention tokens) in 2D and 7 → 4 → 4 (64 tokens)
    in 3D, which keeps training affordable on a CPU; larger inputs are downsampled more in the stem.
    """
    target = 14 if spatial_dims == 2 else 7
    return 2 ** max(0, math.ceil(math.log2(input_size / target)))


def branch_input(cfg: SDTConfig) -> nn.Module:
    """What a residual branch reads the stream through: a LIF (membrane shortcut), or nothing (spike)."""
    return lif(cfg.tau, stock=cfg.stock) if cfg.shortcut == "membrane" else nn.Identity()


def branch_output(cfg: SDTConfig) -> nn.Module:
    """What a residual branch adds to the stream: its membrane currents, or a LIF's spikes (spike)."""
    return lif(cfg.tau, stock=cfg.stock) if cfg.shortcut == "spike" else nn.Identity()


class DownSample(nn.Module):
    """LIF (except on the real-valued image) then a strided conv + BN."""

    def __init__(self, cfg: SDTConfig, cin: int, cout: int, stride: int, first: bool = False) -> None:
        super().__init__()
        self.lif = None if first else branch_input(cfg)
        kernel = max(3, 2 * stride - 1)  # a kernel at least as wide as the stride sees every pixel
        self.conv = conv_bn_class(cfg.stock)(cfg.spatial_dims, cin, cout, kernel_size=kernel, stride=stride)
        self.out = branch_output(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.conv(x if self.lif is None else self.lif(x)))


class ChannelMLP(nn.Module):
    """LIF → 1×1 conv (expand) → LIF → 1×1 conv (project): the residual branch of every block."""

    def __init__(self, cfg: SDTConfig, channels: int) -> None:
        super().__init__()
        hidden = int(channels * cfg.mlp_ratio)
        conv_bn = conv_bn_class(cfg.stock)
        self.lif1 = branch_input(cfg)
        self.fc1 = conv_bn(cfg.spatial_dims, channels, hidden)
        self.lif2 = lif(cfg.tau, stock=cfg.stock)
        self.fc2 = conv_bn(cfg.spatial_dims, hidden, channels)
        self.out = branch_output(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.fc2(self.lif2(self.fc1(self.lif1(x)))))


class ConvBlock(nn.Module):
    """Spatial mixing by a 3×3(×3) conv on spikes, then a channel MLP; both as membrane shortcuts."""

    def __init__(self, cfg: SDTConfig, channels: int) -> None:
        super().__init__()
        self.lif = branch_input(cfg)
        self.conv = conv_bn_class(cfg.stock)(cfg.spatial_dims, channels, channels, kernel_size=3)
        self.out = branch_output(cfg)
        self.mlp = ChannelMLP(cfg, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.out(self.conv(self.lif(x)))
        return x + self.mlp(x)


class AttentionTap(nn.Module):
    """Identity on (Q, K) unless a probe enables it: then it returns the attention map Q·Kᵀ.

    The forward pass never builds the N×N map for itself (it uses Q·(Kᵀ·V)); recording does.
    """

    def __init__(self) -> None:
        super().__init__()
        self.enabled = False

    def forward(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor | None:
        if not self.enabled:
            return None
        return q @ k.transpose(-2, -1)  # [T, B, heads, N, N]: shared active channels per token pair


class SpikeDrivenSelfAttention(nn.Module):
    """Binary Q, K, V from LIF neurons; attention Q·(Kᵀ·V)·scale without softmax, then LIF."""

    def __init__(self, cfg: SDTConfig, channels: int) -> None:
        super().__init__()
        if channels % cfg.heads:
            raise ValueError(f"width {channels} is not divisible by {cfg.heads} heads")
        conv_bn = conv_bn_class(cfg.stock)
        self.heads = cfg.heads
        self.scale = cfg.attention_scale
        self.lif_in = branch_input(cfg)
        self.q = conv_bn(cfg.spatial_dims, channels, channels)
        self.k = conv_bn(cfg.spatial_dims, channels, channels)
        self.v = conv_bn(cfg.spatial_dims, channels, channels)
        self.lif_q, self.lif_k, self.lif_v = (lif(cfg.tau, stock=cfg.stock) for _ in range(3))
        self.lif_attn = lif(cfg.tau, v_threshold=0.5, stock=cfg.stock)
        self.proj = conv_bn(cfg.spatial_dims, channels, channels)
        self.attention_map = AttentionTap()
        self.out = branch_output(cfg)

    def _to_heads(self, x: torch.Tensor) -> torch.Tensor:
        t, b, c = x.shape[:3]
        return x.reshape(t, b, self.heads, c // self.heads, -1).transpose(-2, -1)  # [T,B,H,N,d]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spatial = x.shape[3:]
        s = self.lif_in(x)
        q = self._to_heads(self.lif_q(self.q(s)))
        k = self._to_heads(self.lif_k(self.k(s)))
        v = self._to_heads(self.lif_v(self.v(s)))
        self.attention_map(q, k)
        out = q @ (k.transpose(-2, -1) @ v) * self.scale  # [T,B,H,N,d]
        out = out.transpose(-2, -1).reshape(x.shape[0], x.shape[1], -1, *spatial)
        return self.out(self.proj(self.lif_attn(out)))


class TransformerBlock(nn.Module):
    def __init__(self, cfg: SDTConfig, channels: int) -> None:
        super().__init__()
        self.attn = SpikeDrivenSelfAttention(cfg, channels)
        self.mlp = ChannelMLP(cfg, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x)
        return x + self.mlp(x)


class SpikeDrivenTransformer(nn.Module):
    """Input [T, B, C, *spatial] (an encoded image) → class scores per timestep [T, B, classes]."""

    def __init__(self, cfg: SDTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c1, c2, c3 = cfg.dims
        stride = cfg.stem_stride or stem_stride(cfg.input_size, cfg.spatial_dims)
        self.stem = DownSample(cfg, cfg.in_channels, c1, stride, first=True)
        self.stage1 = nn.Sequential(*[ConvBlock(cfg, c1) for _ in range(cfg.conv_depth)])
        self.down2 = DownSample(cfg, c1, c2, stride=2)
        self.stage2 = nn.Sequential(*[ConvBlock(cfg, c2) for _ in range(cfg.conv_depth)])
        self.down3 = DownSample(cfg, c2, c3, stride=cfg.attention_stride)
        self.stage3 = nn.Sequential(*[TransformerBlock(cfg, c3) for _ in range(cfg.depth)])
        self.head_lif = branch_input(cfg)
        self.head = nn.Linear(c3, cfg.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.stage1(x)
        x = self.stage2(self.down2(x))
        x = self.stage3(self.down3(x))
        pooled = self.head_lif(x).flatten(3).mean(-1)  # [T, B, C]: spike rates over space
        return self.head(pooled)

    def fold_batch_norm(self) -> None:
        """Fold every conv's batch norm into the conv for faster inference (until `train()`)."""
        for module in self.modules():
            if hasattr(module, "fold"):
                module.fold()

    def train(self, mode: bool = True) -> "SpikeDrivenTransformer":
        if mode:  # folded copies would go stale as soon as the weights change
            for module in self.modules():
                if hasattr(module, "unfold"):
                    module.unfold()
        return super().train(mode)
