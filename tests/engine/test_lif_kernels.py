"""The engine's LIF kernels against SpikingJelly's stock LIF node: the same spikes and membrane, the same
gradients; the fused Triton kernels on a GPU (marker `gpu`) and, where Triton is installed, in Triton's
interpreter on the CPU (the kernels' arithmetic, with no GPU)."""
from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from spikingjelly.activation_based import functional, neuron, surrogate

from engine.models.neurons import LIF, lif_multi_step, lif_torch, uses_triton

REPO = Path(__file__).resolve().parents[2]


def stock_lif(v_threshold: float = 1.0) -> neuron.LIFNode:
    return neuron.LIFNode(tau=2.0, v_threshold=v_threshold, v_reset=0.0, detach_reset=True,
                          surrogate_function=surrogate.ATan(), step_mode="m")


def _run(node: torch.nn.Module, x: torch.Tensor, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.detach().clone().requires_grad_()
    spikes = node(x)
    spikes2 = node(x)  # a second call continues from the state the first left
    (spikes * grad).sum().add((spikes2 * grad).sum()).backward()
    return torch.cat([spikes, spikes2]).detach(), x.grad


@pytest.mark.parametrize("v_threshold", [1.0, 0.5])
def test_our_lif_node_is_spikingjellys(v_threshold):
    torch.manual_seed(0)
    x, grad = 2 * torch.randn(4, 8, 3, 5, 5), torch.randn(4, 8, 3, 5, 5)
    ours, stock = LIF(2.0, v_threshold), stock_lif(v_threshold)
    spikes, x_grad = _run(ours, x, grad)
    stock_spikes, stock_grad = _run(stock, x, grad)
    assert 0 < float(spikes.mean()) < 1 and torch.equal(spikes, stock_spikes)
    torch.testing.assert_close(x_grad, stock_grad, atol=1e-6, rtol=1e-5)
    for node in (ours, stock):
        functional.reset_net(node)
        node.store_v_seq = True
    with torch.no_grad():
        ours(x), stock(x)
    torch.testing.assert_close(ours.v_seq, stock.v_seq)
    assert isinstance(ours, neuron.BaseNode) and ours.v_seq.shape == x.shape


def test_spikes_come_in_the_input_format_and_the_membrane_in_float32():
    """Under bf16 autocast the next layer reads bf16 spikes (0/1 is exact), with no fp32 copy in between."""
    torch.manual_seed(2)
    x = 2 * torch.randn(4, 8, 3, 5, 5)
    v0 = torch.zeros(x.shape[1:])
    spikes, v_last, _ = lif_torch(x.bfloat16(), v0, 2.0, 1.0)
    reference, _, _ = lif_torch(x.bfloat16().float(), v0, 2.0, 1.0)
    assert spikes.dtype == torch.bfloat16 and v_last.dtype == torch.float32
    assert torch.equal(spikes.float(), reference)


def test_cpu_tensors_use_the_tensor_kernel():
    assert not uses_triton(torch.zeros(2, 3))


def _parity_on(device: str, dtype: torch.dtype, shape: tuple[int, ...], store_v_seq: bool) -> None:
    torch.manual_seed(1)
    x = (2 * torch.randn(*shape)).to(device=device, dtype=dtype)
    v0 = torch.zeros(shape[1:], device=device)
    grad = torch.randn(*shape, device=device)
    x_kernel = x.clone().requires_grad_(not store_v_seq)
    spikes, v_last, v_seq = lif_multi_step(x_kernel, v0, 2.0, 1.0, store_v_seq=store_v_seq)
    x_ref = x.float().clone().requires_grad_(not store_v_seq)
    ref_spikes, ref_v_last, ref_v_seq = lif_torch(x_ref, v0, 2.0, 1.0, store_v_seq=store_v_seq)
    assert spikes.dtype == dtype and torch.equal(spikes.float(), ref_spikes)
    torch.testing.assert_close(v_last, ref_v_last)
    if store_v_seq:
        torch.testing.assert_close(v_seq, ref_v_seq)
        return
    (spikes.float() * grad).sum().add(v_last.square().sum()).backward()
    (ref_spikes * grad).sum().add(ref_v_last.square().sum()).backward()
    tolerance = 1e-6 if dtype == torch.float32 else 1e-2  # bf16 gradients are rounded to bf16
    torch.testing.assert_close(x_kernel.grad.float(), x_ref.grad, atol=tolerance, rtol=tolerance)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("shape", [(4, 3, 7, 5), (4, 64, 32, 14, 14), (8, 1, 1025)])
@pytest.mark.parametrize("store_v_seq", [False, True])
def test_triton_lif_matches_the_tensor_kernel_on_cuda(dtype, shape, store_v_seq):
    x = torch.zeros(shape, device="cuda", dtype=dtype)
    assert uses_triton(x) and not uses_triton(x.cpu())  # CUDA tensors take the Triton path
    _parity_on("cuda", dtype, shape, store_v_seq)


def test_triton_kernels_in_the_interpreter():
    """The kernels' arithmetic on the CPU, in Triton's interpreter (where Triton is installed)."""
    pytest.importorskip("triton")
    script = (
        "import torch\n"
        "from engine.models import lif_triton, neurons\n"
        "neurons.uses_triton = lambda x, store_v_seq=False: True\n"
        "from tests.engine.test_lif_kernels import _parity_on\n"
        "for dtype in (torch.float32, torch.bfloat16):\n"
        "    for store in (False, True):\n"
        "        _parity_on('cpu', dtype, (4, 3, 37), store)\n"
        "print('ok')\n"
    )
    env = {**os.environ, "TRITON_INTERPRET": "1", "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]


# -- the whole model on a GPU ------------------------------------------------------------------------
def _cuda_twins(name: str = "sdt_tiny", dims: int = 2) -> tuple[torch.nn.Module, torch.nn.Module, torch.Tensor]:
    from engine.data.encoders import encode
    from engine.models import create_model

    size = 28 if dims == 2 else 16
    torch.manual_seed(0)
    ours = create_model(name, 1, 3, dims, 4, size).cuda()
    stock = create_model(name, 1, 3, dims, 4, size, stock=True).cuda()
    stock.load_state_dict(ours.state_dict())
    return ours, stock, encode(3 * torch.rand(8, 1, *(size,) * dims, device="cuda"), 4)


@pytest.mark.gpu
@pytest.mark.parametrize("dims", [2, 3])
def test_model_with_triton_lif_matches_stock_spikingjelly_on_cuda(dims, monkeypatch):
    # cuDNN's TF32 convolutions round differently between the twins' backward passes (measured on an
    # H200: up to 3e-4 on the first conv); in fp32 the gradients agree exactly
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    ours, stock, x = _cuda_twins(dims=dims)
    out, stock_out = ours(x), stock(x)
    torch.testing.assert_close(out, stock_out, atol=1e-4, rtol=1e-4)
    out.square().sum().backward()
    stock_out.square().sum().backward()
    for (name, p), q in zip(ours.named_parameters(), stock.parameters()):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-4 * max(float(q.grad.abs().max()), 1e-6), rtol=1e-3,
                                   msg=name)


@pytest.mark.gpu
def test_bf16_autocast_training_step_on_cuda():
    from engine.device import autocast_for

    ours, _stock, x = _cuda_twins()
    optimizer = torch.optim.AdamW(ours.parameters(), lr=1e-3)
    with autocast_for(torch.device("cuda")):
        out = ours(x)
    assert out.dtype == torch.bfloat16
    out.float().square().mean().backward()
    optimizer.step()
    functional.reset_net(ours)
    assert all(torch.isfinite(p).all() for p in ours.parameters())


@pytest.mark.gpu
def test_training_runs_on_cuda(tmp_path):
    from engine.learning.trainer import Trainer
    from engine.options import TrainConfig

    config = TrainConfig(dataset="phantom2d", epochs=1, batch_size=32, train_limit=64, device="cuda",
                         model_overrides={"dims": [8, 16, 32], "heads": 2})
    summary = Trainer(config, tmp_path / "run").run()
    assert summary["status"] == "finished" and summary["train_images_per_s"] > 0


@pytest.mark.gpu
def test_bench_on_cuda_measures_the_lif_kernel_against_a_copy():
    from engine.bench import run_bench

    result = run_bench("sdt_tiny", dims=(2,), batch_size=4, steps=1, repeats=1, device="cuda", compile_mode="off")
    kernel = result["lif_kernel"]
    assert 0 < kernel["fraction_of_copy"] < 2 and kernel["copy_gb_per_s"] > 0
    assert result["2d"]["train_images_per_s"]["ours_eager"] > 0


@pytest.mark.gpu
@pytest.mark.slow
def test_compiled_model_on_cuda_matches_eager():
    from engine.models.compiled import CompiledModel

    ours, _stock, x = _cuda_twins()
    compiled = CompiledModel(copy.deepcopy(ours))  # inductor's own Triton kernels for the whole graph
    torch.testing.assert_close(compiled(x), ours(x), atol=1e-4, rtol=1e-4)
