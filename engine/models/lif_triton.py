"""Fused multi-step LIF kernels for CUDA in Triton: forward and surrogate backward, each one pass over T.

Each program owns `BLOCK` neurons and walks the timesteps with the membrane potential in registers,
so per timestep the forward reads the input once and writes the spike and the charged potential `h`
once (and `v` when a recording asks for it); the backward reads `h` and the spike gradient once and
writes the input gradient once. Arithmetic is SpikingJelly's LIF (`engine.models.neurons`) in fp32
whatever the input's format (bf16 under autocast): spikes are stored in the input's format, `h` and
the membrane in fp32.

Only imported for CUDA tensors when Triton is installed (`engine.models.neurons.lif_multi_step`);
CPU installs do not need Triton. `lif_forward_bytes` is what `bench` divides by the kernel's time to
compare its bandwidth with a device-to-device copy.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

BLOCK = 1024
HALF_PI = tl.constexpr(1.5707963267948966)  # a global read inside a kernel must be constexpr


@triton.jit
def _lif_forward(x_ptr, v0_ptr, spike_ptr, h_ptr, v_last_ptr, v_seq_ptr, n, timesteps, tau, v_threshold,
                 SAVE_H: tl.constexpr, STORE_V_SEQ: tl.constexpr, BLOCK: tl.constexpr):
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n
    v = tl.load(v0_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
    for t in range(timesteps):
        index = t * n + offsets
        x = tl.load(x_ptr + index, mask=mask, other=0.0).to(tl.float32)
        h = v + (x - v) / tau
        spike = (h - v_threshold >= 0.0).to(tl.float32)
        v = (1.0 - spike) * h
        tl.store(spike_ptr + index, spike.to(spike_ptr.dtype.element_ty), mask=mask)
        if SAVE_H:
            tl.store(h_ptr + index, h, mask=mask)
        if STORE_V_SEQ:
            tl.store(v_seq_ptr + index, v, mask=mask)
    tl.store(v_last_ptr + offsets, v, mask=mask)


@triton.jit
def _lif_backward(grad_spike_ptr, grad_v_last_ptr, h_ptr, grad_x_ptr, grad_v0_ptr, n, timesteps, tau,
                  v_threshold, alpha, BLOCK: tl.constexpr):
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offsets < n
    grad_v = tl.load(grad_v_last_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
    for step in range(timesteps):
        index = (timesteps - 1 - step) * n + offsets
        h = tl.load(h_ptr + index, mask=mask, other=0.0)
        grad_spike = tl.load(grad_spike_ptr + index, mask=mask, other=0.0).to(tl.float32)
        z = (h - v_threshold) * (HALF_PI * alpha)
        surrogate = (alpha / 2.0) / (1.0 + z * z)
        spike = (h - v_threshold >= 0.0).to(tl.float32)
        grad_h = grad_spike * surrogate + grad_v * (1.0 - spike)  # the reset's spike is detached
        tl.store(grad_x_ptr + index, (grad_h / tau).to(grad_x_ptr.dtype.element_ty), mask=mask)
        grad_v = grad_h - grad_h / tau
    tl.store(grad_v0_ptr + offsets, grad_v, mask=mask)


def _grid(n: int) -> tuple[int]:
    return (triton.cdiv(n, BLOCK),)


def lif_forward_bytes(x_seq: torch.Tensor, training: bool = True) -> int:
    """Bytes the forward kernel moves: input read, spikes written, `h` written (training), v0 and v_last."""
    n = x_seq[0].numel()
    per_step = x_seq.element_size() * 2 + (4 if training else 0)
    return x_seq.shape[0] * n * per_step + 2 * 4 * n


class LIFTriton(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x_seq: torch.Tensor, v0: torch.Tensor, tau: float, v_threshold: float, alpha: float,
                store_v_seq: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        x_seq = x_seq.contiguous()
        v0 = v0.to(torch.float32).contiguous()
        timesteps, n = x_seq.shape[0], x_seq[0].numel()
        save_h = ctx.needs_input_grad[0] or ctx.needs_input_grad[1]
        spikes = torch.empty_like(x_seq)
        h = torch.empty(x_seq.shape, device=x_seq.device, dtype=torch.float32) if save_h else spikes
        v_last = torch.empty_like(v0)
        v_seq = torch.empty(x_seq.shape, device=x_seq.device, dtype=torch.float32) if store_v_seq else v_last
        _lif_forward[_grid(n)](x_seq, v0, spikes, h, v_last, v_seq, n, timesteps, float(tau), float(v_threshold),
                               SAVE_H=save_h, STORE_V_SEQ=store_v_seq, BLOCK=BLOCK)
        if save_h:
            ctx.save_for_backward(h)
        ctx.constants = (float(tau), float(v_threshold), float(alpha), x_seq.dtype)
        ctx.mark_non_differentiable(*((v_seq,) if store_v_seq else ()))
        return spikes, v_last, (v_seq if store_v_seq else None)

    @staticmethod
    def backward(ctx, grad_spikes: torch.Tensor | None, grad_v_last: torch.Tensor | None, _grad_v_seq):
        (h,) = ctx.saved_tensors
        tau, v_threshold, alpha, x_dtype = ctx.constants
        timesteps, n = h.shape[0], h[0].numel()
        grad_spikes = torch.zeros_like(h) if grad_spikes is None else grad_spikes.contiguous()
        grad_v_last = torch.zeros_like(h[0]) if grad_v_last is None else grad_v_last.float().contiguous()
        grad_x = torch.empty(h.shape, device=h.device, dtype=x_dtype)
        grad_v0 = torch.empty_like(h[0])
        _lif_backward[_grid(n)](grad_spikes, grad_v_last, h, grad_x, grad_v0, n, timesteps, tau, v_threshold, alpha,
                                BLOCK=BLOCK)
        return grad_x, grad_v0, None, None, None, None


def lif_triton(x_seq: torch.Tensor, v: torch.Tensor, tau: float, v_threshold: float, alpha: float,
               store_v_seq: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Multi-step LIF on a CUDA tensor: (spikes [T, ...] in x's format, last membrane (fp32), v per step)."""
    return LIFTriton.apply(x_seq, v.expand_as(x_seq[0]), tau, v_threshold, alpha, store_v_seq)
