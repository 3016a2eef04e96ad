"""Every registered model, 2D and 3D: forward, backward, config; parity with stock SpikingJelly layers."""
from __future__ import annotations

import pytest
import torch
from spikingjelly.activation_based import functional

from engine.data.encoders import encode
from engine.errors import UserError
from engine.models import count_parameters, create_model, list_models
from engine.models.energy import E_AC_PJ, E_MAC_PJ, _OpCounter, estimate_energy

MODELS = list_models()


def _input(dims: int, batch: int = 2, size: int = 28, channels: int = 1, timesteps: int = 2) -> torch.Tensor:
    torch.manual_seed(0)
    return encode(torch.rand(batch, channels, *(size,) * dims), timesteps)


def test_registry_lists_the_sizes():
    assert {"sdt_tiny", "sdt_small", "sdt_base"} <= set(MODELS)
    with pytest.raises(UserError, match="Unknown model"):
        create_model("resnet18", 1, 2)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("dims", [2, 3])
def test_forward_backward(name, dims):
    size = 28 if dims == 2 else 16
    model = create_model(name, in_channels=3 if dims == 2 else 1, num_classes=5, spatial_dims=dims,
                         timesteps=2, input_size=size)
    x = _input(dims, size=size, channels=3 if dims == 2 else 1)
    out = model(x)
    assert out.shape == (2, 2, 5)  # [T, B, classes]
    out.sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    functional.reset_net(model)
    assert model.cfg.spatial_dims == dims and count_parameters(model) > 0


def test_sizes_grow_and_overrides_apply():
    tiny, small = (count_parameters(create_model(n, 1, 2)) for n in ("sdt_tiny", "sdt_small"))
    assert tiny < small
    model = create_model("sdt_tiny", 1, 2, dims=(8, 16, 32), depth=3, heads=4, timesteps=6)
    assert len(model.stage3) == 3 and model.cfg.heads == 4 and model.cfg.timesteps == 6


@pytest.mark.parametrize("size,dims", [(64, 2), (224, 2), (64, 3)])
def test_large_inputs_are_downsampled_in_the_stem(size, dims):
    model = create_model("sdt_tiny", 1, 2, spatial_dims=dims, input_size=size)
    assert model(_input(dims, batch=1, size=size)).shape == (2, 1, 2)


def _trained_like(model: torch.nn.Module, x: torch.Tensor) -> None:
    """Training-mode passes with cumulative BN statistics, so eval mode is realistic and neurons fire."""
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.momentum = None
            module.reset_running_stats()
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(x)
            functional.reset_net(model)


@pytest.mark.parametrize("dims", [2, 3])
def test_same_weights_same_outputs_as_stock_spikingjelly_layers(dims):
    size = 28 if dims == 2 else 16
    ours = create_model("sdt_tiny", 1, 3, dims, 2, size)
    stock = create_model("sdt_tiny", 1, 3, dims, 2, size, stock=True)
    stock.load_state_dict(ours.state_dict())
    x = _input(dims, batch=4, size=size)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), stock(x))


def test_folded_batch_norm_gives_the_same_outputs():
    model = create_model("sdt_tiny", 1, 3)
    x = _input(2, batch=8)
    _trained_like(model, x)
    model.eval()
    with torch.no_grad():
        reference = model(x)
        functional.reset_net(model)
        model.fold_batch_norm()
        folded = model(x)
        functional.reset_net(model)
    torch.testing.assert_close(folded, reference, atol=1e-4, rtol=1e-4)
    model.train()
    assert all(m.folded is None for m in model.modules() if hasattr(m, "folded"))


def test_energy_counts_bf16_spikes_exactly():
    """Under bf16 autocast the neurons hand on bf16 spikes, whose own sum would round (8-bit mantissa)."""
    counter = _OpCounter()
    counter.neuron_hook(None, (), torch.ones(4, 25_001, dtype=torch.bfloat16))
    assert counter.spikes == 100_004 and counter.neuron_steps == 100_004


def test_energy_counts_spikes_as_accumulates_and_the_stem_as_macs():
    model = create_model("sdt_tiny", 1, 3)
    x = _input(2, batch=4, timesteps=4)
    _trained_like(model, x)
    report = estimate_energy(model, x)
    stem = model.stem.conv.conv
    stem_macs = 4 * (28 // 2) ** 2 * stem.out_channels * stem.in_channels * 9  # T x outputs x fan-in
    assert report.macs >= stem_macs
    assert 0 < report.synaptic_ops < report.dense_ops
    assert report.energy_pj == pytest.approx(E_AC_PJ * report.synaptic_ops + E_MAC_PJ * report.macs)
    assert report.ann_energy_pj == pytest.approx(E_MAC_PJ * report.dense_ops / 4)
    assert report.ratio_to_ann < 1
