"""One network, three implementations: input -> Linear -> LIF -> Linear -> LIF (spikes out).

All three share the exact dynamics (SpikingJelly's soft-reset LIF with decay_input=False):
    H[t] = beta * V[t-1] + I[t];  S[t] = H[t] >= threshold;  V[t] = H[t] - threshold * S[t]
Mappings: snnTorch `Leaky(beta, reset_mechanism="subtract", reset_delay=False)`;
SpikingJelly `LIFNode(tau=1/(1-beta), decay_input=False, v_reset=None)`. All use the ATan surrogate
(alpha = 2: identical formula in snnTorch and SpikingJelly), and none detaches the reset, because
snnTorch's immediate reset (`reset_delay=False`) always lets gradient through it.
snnTorch fires on H > threshold and SpikingJelly on H >= threshold: equal almost surely for real inputs.
snnTorch agrees with the others while the membrane stays below twice the threshold after a reset
(its next step re-checks the reset against the post-reset membrane).

Each model also exposes `psp(x_seq, tau, tau_s)`: the Tempotron's double-exponential postsynaptic
potential of every input line, computed by the implementation's own neurons.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from engine.snndeep.config import ModelConfig

PSP_SILENT_THRESHOLD = 1e9  # a threshold no PSP reaches: the neuron integrates and never fires


class ATanSpike(torch.autograd.Function):
    """Heaviside forward, arctan surrogate backward: alpha / 2 / (1 + (pi/2 * alpha * x)^2)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return atan_surrogate(x, ctx.alpha) * grad, None


def atan_surrogate(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return alpha / 2 / (1 + (math.pi / 2 * alpha * x) ** 2)


class LIFSequence(torch.autograd.Function):
    """A whole LIF layer over T steps in one autograd node, with a hand-written backward.

    Forward keeps only the pre-spike membrane H; backward is one reverse linear recurrence:
        dL/dH[t] = dL/dS[t] * sg[t] + dL/dV[t] * k[t],   dL/dV[t-1] = beta * dL/dH[t]
    with k = 1 - threshold * sg (reset not detached) or 1 (detached).
    """

    @staticmethod
    def forward(ctx, current: torch.Tensor, beta: float, threshold: float, alpha: float, detach_reset: bool):  # type: ignore[override]
        membrane = torch.empty_like(current)
        v = torch.zeros_like(current[0])
        for t in range(current.shape[0]):
            h = torch.add(current[t], v, alpha=beta, out=membrane[t])
            v = h - threshold * (h >= threshold)
        spikes = (membrane >= threshold).to(current.dtype)
        ctx.save_for_backward(membrane)
        ctx.params = (beta, threshold, alpha, detach_reset)
        return spikes

    @staticmethod
    def backward(ctx, grad_spikes: torch.Tensor):  # type: ignore[override]
        (membrane,) = ctx.saved_tensors
        beta, threshold, alpha, detach_reset = ctx.params
        sg = atan_surrogate(membrane - threshold, alpha)
        direct = grad_spikes * sg
        carry = None if detach_reset else 1 - threshold * sg
        if carry is not None:
            carry.mul_(beta)  # fold the decay in: dL/dH[t] = direct[t] + dL/dH[t+1] * beta * k[t]
        grad_current = direct  # filled in place, back to front, two kernels per step at most
        for t in range(direct.shape[0] - 2, -1, -1):
            if carry is None:
                grad_current[t].add_(grad_current[t + 1], alpha=beta)
            else:
                grad_current[t].addcmul_(grad_current[t + 1], carry[t])
        return grad_current, None, None, None, None


def linear_over_time(layer: nn.Linear, x_seq: torch.Tensor) -> torch.Tensor:
    """Apply a Linear to all T x B inputs in one matrix product."""
    steps, batch = x_seq.shape[:2]
    return layer(x_seq.reshape(steps * batch, -1)).reshape(steps, batch, -1)


def psp_kernel(steps: int, tau: float, tau_s: float) -> torch.Tensor:
    """The Tempotron kernel K(n) = V0 (exp(-(n+1)/tau) - exp(-(n+1)/tau_s)) for n >= 0, peak 1.

    The one-step shift makes it equal, sample for sample, to a synaptic-current neuron (decay
    exp(-1/tau_s)) feeding a membrane (decay exp(-1/tau)), as the frameworks compute it."""
    n = torch.arange(1, 4 * steps + 1, dtype=torch.float64)
    kernel = torch.exp(-n / tau) - torch.exp(-n / tau_s)
    return (kernel / kernel.max())[:steps].float()


def psp_input_scale(tau: float, tau_s: float, steps: int) -> float:
    """Input gain that makes the recursive two-state neuron produce psp_kernel exactly."""
    beta, alpha = math.exp(-1 / tau), math.exp(-1 / tau_s)
    n = torch.arange(1, 4 * steps + 1, dtype=torch.float64)
    peak = float((torch.exp(-n / tau) - torch.exp(-n / tau_s)).max())
    return (beta - alpha) / peak


class SpikingMLP(nn.Module):
    """Common interface: `forward(x_seq) -> (hidden_spikes, output_spikes)`, each T x B x N."""

    implementation = "base"

    def __init__(self, n_in: int, n_out: int, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.fc1 = nn.Linear(n_in, cfg.hidden)
        self.fc2 = nn.Linear(cfg.hidden, n_out)

    def psp(self, x_seq: torch.Tensor, tau: float, tau_s: float) -> torch.Tensor:
        raise NotImplementedError


class CustomSNN(SpikingMLP):
    """From scratch: vectorised input projections, a fused LIF recurrence with its own backward."""

    implementation = "custom"

    def forward(self, x_seq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.cfg
        lif = lambda current: LIFSequence.apply(current, c.beta, c.threshold, c.surrogate_alpha, c.detach_reset)  # noqa: E731
        hidden = lif(linear_over_time(self.fc1, x_seq))
        return hidden, lif(linear_over_time(self.fc2, hidden))

    def psp(self, x_seq: torch.Tensor, tau: float, tau_s: float) -> torch.Tensor:
        """Causal convolution with the analytic kernel, as one (T x T) Toeplitz product."""
        steps = x_seq.shape[0]
        kernel = psp_kernel(steps, tau, tau_s).to(x_seq)
        lag = torch.arange(steps)[:, None] - torch.arange(steps)[None, :]
        toeplitz = torch.where(lag >= 0, kernel[lag.clamp(min=0)], torch.zeros(()))
        return torch.einsum("ts,sbd->tbd", toeplitz, x_seq)


class SnnTorchSNN(SpikingMLP):
    """snnTorch: `snn.Leaky` neurons stepped in a Python loop, as snnTorch models are written."""

    implementation = "snntorch"

    def __init__(self, n_in: int, n_out: int, cfg: ModelConfig) -> None:
        super().__init__(n_in, n_out, cfg)
        import snntorch as snn
        from snntorch import surrogate

        make = lambda: snn.Leaky(  # noqa: E731
            beta=cfg.beta,
            threshold=cfg.threshold,
            spike_grad=surrogate.atan(alpha=cfg.surrogate_alpha),
            reset_mechanism="subtract",
            reset_delay=False,
        )
        self.lif1, self.lif2 = make(), make()

    @staticmethod
    def _run(neuron: nn.Module, current: torch.Tensor) -> torch.Tensor:
        mem = torch.zeros_like(current[0])
        spikes = []
        for t in range(current.shape[0]):
            spk, mem = neuron(current[t], mem)
            spikes.append(spk)
        return torch.stack(spikes)

    def forward(self, x_seq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self._run(self.lif1, linear_over_time(self.fc1, x_seq))
        return hidden, self._run(self.lif2, linear_over_time(self.fc2, hidden))

    def psp(self, x_seq: torch.Tensor, tau: float, tau_s: float) -> torch.Tensor:
        """`snn.Synaptic` (current decay alpha = exp(-1/tau_s), membrane decay beta = exp(-1/tau)), no reset."""
        import snntorch as snn

        neuron = snn.Synaptic(
            alpha=math.exp(-1 / tau_s), beta=math.exp(-1 / tau), threshold=PSP_SILENT_THRESHOLD, reset_mechanism="none"
        )
        scaled = x_seq * psp_input_scale(tau, tau_s, x_seq.shape[0])
        syn = torch.zeros_like(scaled[0])
        mem = torch.zeros_like(scaled[0])
        trace = []
        for t in range(scaled.shape[0]):
            _, syn, mem = neuron(scaled[t], syn, mem)
            trace.append(mem)
        return torch.stack(trace)


class SpikingJellySNN(SpikingMLP):
    """SpikingJelly 2.0: `layer.Linear` and `neuron.LIFNode` in multi-step mode."""

    implementation = "spikingjelly"

    def __init__(self, n_in: int, n_out: int, cfg: ModelConfig) -> None:
        super().__init__(n_in, n_out, cfg)
        from spikingjelly.activation_based import layer, neuron, surrogate

        self.fc1 = layer.Linear(n_in, cfg.hidden, step_mode="m")
        self.fc2 = layer.Linear(cfg.hidden, n_out, step_mode="m")
        make = lambda: neuron.LIFNode(  # noqa: E731
            tau=1.0 / (1.0 - cfg.beta),
            decay_input=False,
            v_threshold=cfg.threshold,
            v_reset=None,
            surrogate_function=surrogate.ATan(alpha=cfg.surrogate_alpha),
            detach_reset=cfg.detach_reset,
            step_mode="m",
        )
        self.lif1, self.lif2 = make(), make()

    def forward(self, x_seq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from spikingjelly.activation_based import functional

        functional.reset_net(self)
        hidden = self.lif1(self.fc1(x_seq))
        return hidden, self.lif2(self.fc2(hidden))

    def psp(self, x_seq: torch.Tensor, tau: float, tau_s: float) -> torch.Tensor:
        """Two chained non-firing LIFNodes: a synaptic current (tau_s) driving a membrane (tau)."""
        from spikingjelly.activation_based import neuron

        def integrator(decay: float) -> nn.Module:
            return neuron.LIFNode(
                tau=1.0 / (1.0 - decay), decay_input=False, v_threshold=PSP_SILENT_THRESHOLD,
                v_reset=None, step_mode="m", store_v_seq=True,
            )

        current = integrator(math.exp(-1 / tau_s))
        membrane = integrator(math.exp(-1 / tau))
        current(x_seq * psp_input_scale(tau, tau_s, x_seq.shape[0]))
        membrane(current.v_seq)
        return membrane.v_seq


IMPLEMENTATION_CLASSES: dict[str, type[SpikingMLP]] = {
    cls.implementation: cls for cls in (CustomSNN, SnnTorchSNN, SpikingJellySNN)
}


def create_snn(implementation: str, n_in: int, n_out: int, cfg: ModelConfig) -> SpikingMLP:
    from engine.errors import UserError

    if implementation not in IMPLEMENTATION_CLASSES:
        raise UserError(f"Unknown implementation '{implementation}'; choose one of: {', '.join(IMPLEMENTATION_CLASSES)}.")
    return IMPLEMENTATION_CLASSES[implementation](n_in, n_out, cfg)


def copy_weights(source: SpikingMLP, target: SpikingMLP) -> None:
    """Give `target` the same Linear weights as `source` (the neurons hold no parameters)."""
    with torch.no_grad():
        for name in ("fc1", "fc2"):
            getattr(target, name).weight.copy_(getattr(source, name).weight)
            getattr(target, name).bias.copy_(getattr(source, name).bias)
