"""The compiled path (torch.compile, inductor's C++ on the CPU): the same outputs and gradients as eager,
neuron reset and probes through a compiled model, and a clean fallback when there is no compiler.

Tolerance (stated in docs/speed.md): compiled outputs within 1e-5 absolute + 1e-4 relative of eager,
and every parameter gradient within 1e-4 of the largest gradient of that parameter. Spikes are
thresholds, so a rounding difference right at a threshold could flip one; the tiny inputs used here
keep that from happening, and the first tests found outputs equal to the bit.

A first compilation takes about a minute per model on a 2-core CPU (seconds once cached in
`compile_cache_dir()`), so the compiling tests are marked `slow`.
"""
from __future__ import annotations

import copy
import logging

import pytest
import torch
from spikingjelly.activation_based import base, functional

from engine.data.encoders import encode
from engine.learning.trainer import Trainer
from engine.models import create_model, list_models
from engine.models.compiled import (AUTO_MIN_IMAGES, CompiledModel, compile_model, decide_compile, eager_module,
                                    find_cpp_compiler)
from engine.models.layers import convolve, is_pointwise
from engine.options import TrainConfig
from engine.probe.recorder import record_sample

CPU = torch.device("cpu")
MICRO = {"dims": (8, 16, 32), "heads": 2}


def _model_and_input(name: str, spatial_dims: int, **overrides) -> tuple[torch.nn.Module, torch.Tensor]:
    size = 16 if spatial_dims == 2 else 8
    torch.manual_seed(0)
    model = create_model(name, 1, 3, spatial_dims=spatial_dims, timesteps=2, input_size=size, **overrides)
    return model, encode(3 * torch.rand(2, 1, *(size,) * spatial_dims), 2)


def _forward_backward(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = model(x)
    out.square().sum().backward()
    functional.reset_net(model)
    return out.detach()


def assert_same_outputs_and_gradients(compiled: CompiledModel, eager: torch.nn.Module, x: torch.Tensor) -> None:
    torch.testing.assert_close(_forward_backward(compiled, x), _forward_backward(eager, x), atol=1e-5, rtol=1e-4)
    fired = 0
    for (name, ours), theirs in zip(compiled.module.named_parameters(), eager.parameters()):
        scale = float(theirs.grad.abs().max())
        fired += scale > 0
        assert float((ours.grad - theirs.grad).abs().max()) <= 1e-4 * max(scale, 1e-6), name
    assert fired > 0.8 * len(list(eager.parameters()))  # the spikes reached most layers


@pytest.mark.slow
@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("dims", [2, 3])
def test_compiled_training_matches_eager(name, dims):
    eager, x = _model_and_input(name, dims)
    compiled = CompiledModel(copy.deepcopy(eager))
    assert_same_outputs_and_gradients(compiled, eager, x)
    assert compiled.failed is None and compiled._shapes == {True: tuple(x.shape)}
    for ours, theirs in zip(compiled.module.buffers(), eager.buffers()):  # batch-norm statistics
        torch.testing.assert_close(ours, theirs)


@pytest.mark.parametrize("dims", [2, 3])
def test_a_compiled_bf16_pointwise_convolution_is_the_same_matrix_product(dims):
    """Compiled bf16 training runs a 1x1 convolution as a matrix product: same values, same gradients."""
    torch.manual_seed(0)
    conv = (torch.nn.Conv2d if dims == 2 else torch.nn.Conv3d)(6, 10, 1, bias=False)
    x = torch.randn(3, 6, *(5,) * dims)
    graph = torch.compile(lambda flat: convolve(conv, flat), fullgraph=True, dynamic=False)
    outputs, grads = [], []
    for run in (graph, conv):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = run(x)
        out.float().square().sum().backward()
        outputs.append(out.float()), grads.append(conv.weight.grad.clone())
        conv.weight.grad = None
    torch.testing.assert_close(outputs[0], outputs[1], atol=2e-2, rtol=2e-2)  # bf16 rounding
    torch.testing.assert_close(grads[0], grads[1], atol=5e-2, rtol=2e-2)
    strided = (torch.nn.Conv2d if dims == 2 else torch.nn.Conv3d)(6, 10, 3, padding=1)
    assert is_pointwise(conv) and not is_pointwise(strided)


@pytest.mark.slow
def test_compiled_evaluation_reset_and_probes():
    eager, x = _model_and_input("sdt_tiny", 2, **MICRO)
    compiled = CompiledModel(copy.deepcopy(eager))
    compiled.eval(), eager.eval()
    with torch.no_grad():
        first = compiled(x)
        neurons = [m for m in compiled.modules() if isinstance(m, base.MemoryModule)]
        assert any(isinstance(m.v, torch.Tensor) for m in neurons)  # state was written back by the graph
        functional.reset_net(compiled)
        assert all(m.v == 0.0 for m in neurons)
        torch.testing.assert_close(compiled(x), first)  # a reset network gives the same answer again
        functional.reset_net(compiled)
        torch.testing.assert_close(first, eager(x), atol=1e-5, rtol=1e-4)
        functional.reset_net(eager)
        odd = compiled(x[:, :1])  # another batch shape runs eagerly, without recompiling
        functional.reset_net(compiled)
    assert compiled._shapes == {False: tuple(x.shape)} and odd.shape[1] == 1
    sample = x[0, 0] / 3
    through_compiled = record_sample(compiled, sample, 2)
    through_eager = record_sample(eager, sample, 2)
    assert eager_module(compiled) is compiled.module and through_compiled.layers
    assert set(through_compiled.layers) == set(through_eager.layers)
    assert through_compiled.attention and set(through_compiled.attention) == set(through_eager.attention)
    for layer, record in through_compiled.layers.items():
        assert (record.spikes == through_eager.layers[layer].spikes).all()
        assert record.membrane is not None  # v_seq recorded through the hooks


@pytest.mark.slow
def test_training_with_compile_on_emits_compiling_and_learns_like_eager(tmp_path):
    values = dict(dataset="phantom2d", epochs=1, batch_size=50, train_limit=100, device="cpu", timesteps=2,
                  model_overrides=dict(MICRO), seed=3)
    events = []
    compiled = Trainer(TrainConfig(**values, compile="on"), tmp_path / "compiled", callbacks=[events.append]).run()
    eager = Trainer(TrainConfig(**values, compile="off"), tmp_path / "eager").run()
    kinds = [e.kind for e in events]
    assert "compiling" in kinds and kinds.index("compiling") < kinds.index("batch")
    assert compiled["val_loss"] == pytest.approx(eager["val_loss"], rel=1e-3)
    assert compiled["test_acc"] == pytest.approx(eager["test_acc"], abs=0.02)


def test_missing_compiler_falls_back_with_one_warning(caplog):
    from torch._inductor import config

    model, x = _model_and_input("sdt_tiny", 2, **MICRO)
    with config.patch({"cpp.cxx": (None, "/nonexistent/g++")}), caplog.at_level(logging.WARNING):
        assert find_cpp_compiler() is None
        runner = compile_model(model, "on", CPU)
        assert decide_compile("auto", CPU, 10 * AUTO_MIN_IMAGES).enabled is False
    assert runner is model
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "no C++ compiler" in warnings[0].getMessage()


def test_a_failing_compiler_falls_back_to_eager_with_one_warning(monkeypatch, caplog, tmp_path):
    from torch._inductor import config

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))  # nothing cached: the compiler must run
    torch._dynamo.reset()
    model, x = _model_and_input("sdt_tiny", 2, dims=(4, 8, 8), heads=2, depth=1)
    reference = copy.deepcopy(model)
    compiled = CompiledModel(model)
    broken = tmp_path / "g++"
    broken.write_text("#!/bin/sh\necho 'g++ (simulated)'; case \"$1\" in --version) exit 0;; esac; exit 1\n")
    broken.chmod(0o755)
    with config.patch({"cpp.cxx": (None, str(broken))}), caplog.at_level(logging.WARNING, logger="engine"):
        out = _forward_backward(compiled, x)  # found and runs, but every compilation fails
    torch._dynamo.reset()
    assert compiled.failed
    warnings = [r for r in caplog.records if r.name.startswith("engine") and r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "continuing without compilation" in warnings[0].getMessage()
    assert len(warnings[0].getMessage().splitlines()) == 1
    torch.testing.assert_close(out, _forward_backward(reference, x))
    torch.testing.assert_close(_forward_backward(compiled, x), _forward_backward(reference, x))  # stays eager


def test_the_compile_option_decides():
    assert decide_compile("off", CPU, 10**9).enabled is False
    assert decide_compile("auto", CPU, AUTO_MIN_IMAGES - 1).enabled is False
    assert decide_compile("auto", torch.device("cuda"), 10**9).enabled is False  # GPUs run the Triton LIF instead
    if find_cpp_compiler() is not None:
        assert decide_compile("auto", CPU, AUTO_MIN_IMAGES).enabled
        assert decide_compile("on", CPU, 10).enabled
    with pytest.raises(ValueError):
        decide_compile("fast", CPU)
    assert TrainConfig().compile == "auto"


def test_a_short_run_is_not_compiled(tmp_path):
    events = []
    config = TrainConfig(dataset="phantom2d", epochs=1, batch_size=50, train_limit=50, device="cpu", timesteps=2,
                         model_overrides=dict(MICRO))
    trainer = Trainer(config, tmp_path / "run", callbacks=[events.append])
    trainer.run()
    assert "compiling" not in [e.kind for e in events] and trainer.forward_model is trainer.model
