"""The same weights and inputs give the same spikes, gradients and PSPs in all three implementations."""
from __future__ import annotations

import math

import pytest
import torch

from engine.snndeep.config import IMPLEMENTATIONS, ModelConfig
from engine.snndeep.encoding import latency_encode
from engine.snndeep.models import copy_weights, create_snn, psp_kernel


@pytest.fixture(scope="module")
def networks():
    cfg = ModelConfig(hidden=48, tau=6.0, threshold=1.0, timesteps=12)
    torch.manual_seed(0)
    models = {name: create_snn(name, 30, 2, cfg) for name in IMPLEMENTATIONS}
    with torch.no_grad():  # input current <= threshold per step, so V stays below 2 x threshold
        models["custom"].fc1.weight.uniform_(0.0, 1.0 / 30)  # (snnTorch's reset matches the others there)
        models["custom"].fc1.bias.zero_()
        models["custom"].fc2.weight.uniform_(-0.5 / 48, 1.0 / 48)
        models["custom"].fc2.bias.zero_()
    for model in list(models.values())[1:]:
        copy_weights(models["custom"], model)
    x = (torch.rand(cfg.timesteps, 16, 30, generator=torch.Generator().manual_seed(1)) < 0.4).float()
    return models, x


def test_decay_mappings():
    cfg = ModelConfig(tau=5.0)
    sj = create_snn("spikingjelly", 4, 2, cfg)
    assert math.isclose(1 - 1 / sj.lif1.tau, cfg.beta, rel_tol=1e-9)  # SpikingJelly tau <-> snnTorch beta
    snn_t = create_snn("snntorch", 4, 2, cfg)
    assert math.isclose(float(snn_t.lif1.beta), cfg.beta, rel_tol=1e-6)


def _max_post_reset_membrane(x: torch.Tensor, model) -> float:
    """The largest membrane left after a reset in the hidden layer (the snnTorch parity condition)."""
    current = model.fc1(x)
    v, worst = torch.zeros_like(current[0]), 0.0
    for t in range(current.shape[0]):
        h = model.cfg.beta * v + current[t]
        v = h - model.cfg.threshold * (h >= model.cfg.threshold)
        worst = max(worst, float(v.max()))
    return worst


def test_same_spikes(networks):
    models, x = networks
    with torch.no_grad():
        assert _max_post_reset_membrane(x, models["custom"]) < models["custom"].cfg.threshold
    reference_hidden, reference_out = models["custom"](x)
    assert 0.02 < reference_hidden.mean() < 0.9  # the comparison is not between silent networks
    for name in ("snntorch", "spikingjelly"):
        hidden, out = models[name](x)
        assert torch.equal(hidden, reference_hidden), name
        assert torch.equal(out, reference_out), name


def test_same_gradients(networks):
    models, x = networks
    grads = {}
    for name, model in models.items():
        model.zero_grad()
        hidden, out = model(x)
        (out.sum(0)[:, 1] - out.sum(0)[:, 0] + 0.1 * hidden.sum((0, 2))).sum().backward()
        grads[name] = torch.cat([model.fc1.weight.grad.flatten(), model.fc2.weight.grad.flatten()])
    for name in ("snntorch", "spikingjelly"):
        torch.testing.assert_close(grads[name], grads["custom"], rtol=1e-4, atol=1e-5)


def test_same_tempotron_psp(networks):
    models, _ = networks
    x = latency_encode(torch.rand(8, 30, generator=torch.Generator().manual_seed(2)), 24)
    reference = models["custom"].psp(x, 6.0, 1.5)
    assert reference.max() > 0.5
    for name in ("snntorch", "spikingjelly"):
        torch.testing.assert_close(models[name].psp(x, 6.0, 1.5), reference, rtol=1e-4, atol=1e-5)


def test_psp_kernel_shape():
    kernel = psp_kernel(40, 8.0, 2.0)
    assert math.isclose(float(kernel.max()), 1.0, rel_tol=1e-6)
    assert 0 < int(kernel.argmax()) < 39 and kernel[-1] < kernel.max()  # rises, then decays


def test_spikingjelly_matches_custom_under_strong_drive():
    cfg = ModelConfig(hidden=64, tau=3.0, threshold=0.5, timesteps=10)
    torch.manual_seed(3)
    custom, jelly = create_snn("custom", 30, 4, cfg), create_snn("spikingjelly", 30, 4, cfg)
    with torch.no_grad():
        custom.fc1.weight.mul_(4.0)
        custom.fc2.weight.mul_(4.0)
    copy_weights(custom, jelly)
    x = (torch.rand(cfg.timesteps, 8, 30, generator=torch.Generator().manual_seed(4)) < 0.5).float()
    (h_c, o_c), (h_j, o_j) = custom(x), jelly(x)
    assert o_c.sum() > 0 and torch.equal(h_c, h_j) and torch.equal(o_c, o_j)
