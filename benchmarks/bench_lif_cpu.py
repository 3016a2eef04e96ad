"""A hand-written fused multi-step LIF against the compiler, on the CPU; prints one JSON object.

The contender the engine does not ship: forward and surrogate backward each one pass over T in C
(OpenMP over neurons, the membrane in a register; built here with the system gcc and called through
ctypes), wrapped in a torch.autograd.Function. It is measured against
- the LIF kernels used today: SpikingJelly's `LIFNode` op and the engine's tensor kernel (eager);
- the engine's tensor kernel compiled by inductor, alone and inside the whole model, where inductor
  also fuses the batch norm around it;
first on one layer's LIF (forward + backward), then as whole `sdt_small` training steps
(hand-written LIF in the eager model against the compiled model). Contenders are timed in turn.

    .venv/bin/python benchmarks/bench_lif_cpu.py [--steps 5]
"""
from __future__ import annotations

import argparse
import ctypes
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.device import configure_threads  # noqa: E402

SOURCE = r"""
#include <math.h>
#include <stdint.h>
/* x, spikes, h: [T, n]; v0, v_last: [n]. Hard reset to 0, detached reset, arctan surrogate. */
void lif_forward(const float* x, const float* v0, float* spikes, float* h, float* v_last,
                 int64_t T, int64_t n, float tau, float threshold) {
    #pragma omp parallel for simd
    for (int64_t i = 0; i < n; ++i) {
        float v = v0[i];
        for (int64_t t = 0; t < T; ++t) {
            float charged = v + (x[t * n + i] - v) / tau;
            float spike = charged - threshold >= 0.0f ? 1.0f : 0.0f;
            spikes[t * n + i] = spike;
            h[t * n + i] = charged;
            v = (1.0f - spike) * charged;
        }
        v_last[i] = v;
    }
}
void lif_backward(const float* grad_spikes, const float* h, float* grad_x, int64_t T, int64_t n,
                  float tau, float threshold, float alpha) {
    const float k = 1.5707963267948966f * alpha;
    #pragma omp parallel for simd
    for (int64_t i = 0; i < n; ++i) {
        float grad_v = 0.0f;
        for (int64_t t = T - 1; t >= 0; --t) {
            float z = (h[t * n + i] - threshold) * k;
            float spike = h[t * n + i] - threshold >= 0.0f ? 1.0f : 0.0f;
            float grad_h = grad_spikes[t * n + i] * (alpha / 2.0f) / (1.0f + z * z) + grad_v * (1.0f - spike);
            grad_x[t * n + i] = grad_h / tau;
            grad_v = grad_h - grad_h / tau;
        }
    }
}
"""


def build_library() -> ctypes.CDLL:
    folder = Path(tempfile.mkdtemp(prefix="spikeview-lif-"))
    (folder / "lif.c").write_text(SOURCE)
    subprocess.run(["gcc", "-O3", "-march=native", "-fopenmp", "-shared", "-fPIC", "lif.c", "-o", "lif.so"],
                   cwd=folder, check=True)
    library = ctypes.CDLL(str(folder / "lif.so"))
    i64, f32, ptr = ctypes.c_int64, ctypes.c_float, ctypes.c_void_p
    library.lif_forward.argtypes = [ptr] * 5 + [i64, i64, f32, f32]
    library.lif_backward.argtypes = [ptr] * 3 + [i64, i64, f32, f32, f32]
    return library


def hand_written_lif(library: ctypes.CDLL):
    import torch

    class HandLIF(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, v0, tau, threshold, alpha):
            x, v0 = x.contiguous().float(), v0.contiguous().float()
            spikes, h, v_last = torch.empty_like(x), torch.empty_like(x), torch.empty_like(v0)
            library.lif_forward(x.data_ptr(), v0.data_ptr(), spikes.data_ptr(), h.data_ptr(), v_last.data_ptr(),
                                x.shape[0], v0.numel(), tau, threshold)
            ctx.save_for_backward(h)
            ctx.constants = (tau, threshold, alpha)
            return spikes, v_last

        @staticmethod
        def backward(ctx, grad_spikes, _grad_v_last):
            (h,) = ctx.saved_tensors
            tau, threshold, alpha = ctx.constants
            grad_spikes, grad_x = grad_spikes.contiguous(), torch.empty_like(h)
            library.lif_backward(grad_spikes.data_ptr(), h.data_ptr(), grad_x.data_ptr(), h.shape[0], h[0].numel(),
                                 tau, threshold, alpha)
            return grad_x, None, None, None, None

    def lif(x_seq, v, tau, v_threshold, alpha=2.0, store_v_seq=False):
        if store_v_seq:
            raise ValueError("the hand-written contender does not record v_seq")
        spikes, v_last = HandLIF.apply(x_seq, v.expand_as(x_seq[0]), tau, v_threshold, alpha)
        return spikes, v_last, None

    return lif


def _median_ms(contenders: dict, repeats: int) -> dict:
    for fn in contenders.values():
        fn()
    times = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: 1000 * statistics.median(values) for name, values in times.items()}


def layer_contenders(hand_lif) -> dict:
    import torch
    from spikingjelly.activation_based import functional

    from engine.models.layers import lif
    from engine.models.neurons import lif_torch

    x = (2 * torch.randn(4, 64, 128, 14, 14)).requires_grad_()  # sdt_small's widest LIF (stage 1 MLP), batch 64
    grad, v0 = torch.randn_like(x), torch.zeros(x.shape[1:])
    stock = lif(stock=True)
    compiled_kernel = torch.compile(lif_torch, dynamic=False)

    def through(kernel):
        def run():
            spikes = kernel(x, v0, 2.0, 1.0)[0]
            (spikes * grad).sum().backward()
        return run

    def through_stock():
        (stock(x) * grad).sum().backward()
        functional.reset_net(stock)

    return {"spikingjelly_lifnode": through_stock, "tensor_kernel_eager": through(lif_torch),
            "hand_written_c": through(hand_lif), "tensor_kernel_compiled": through(compiled_kernel)}


def model_contenders(hand_lif, batch: int):
    import torch

    import engine.models.neurons as neurons
    from engine.bench import _train_step
    from engine.data.encoders import encode
    from engine.models import create_model
    from engine.models.compiled import CompiledModel

    torch.manual_seed(0)
    x = encode(torch.rand(batch, 1, 28, 28), 4)
    y = torch.randint(0, 11, (batch,))
    eager = create_model("sdt_small", 1, 11, 2, 4, 28)
    hand = create_model("sdt_small", 1, 11, 2, 4, 28)
    compiled = CompiledModel(create_model("sdt_small", 1, 11, 2, 4, 28))
    cpu = torch.device("cpu")
    step_eager, step_compiled = _train_step(eager, eager, x, y, cpu), _train_step(compiled, compiled, x, y, cpu)
    step_hand_inner = _train_step(hand, hand, x, y, cpu)

    def step_hand():
        saved, neurons.lif_multi_step = neurons.lif_multi_step, hand_lif
        try:
            step_hand_inner()
        finally:
            neurons.lif_multi_step = saved

    return {"eager_tensor_kernel": step_eager, "eager_hand_written_c": step_hand, "compiled": step_compiled}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    plan = configure_threads()
    hand_lif = hand_written_lif(build_library())
    layer = _median_ms(layer_contenders(hand_lif), 3 * args.steps)
    model = _median_ms(model_contenders(hand_lif, args.batch_size), args.steps)
    print(json.dumps({
        "threads": plan.threads,
        "lif_layer_forward_backward_ms": layer,
        "lif_layer_speedup_over_spikingjelly": {k: layer["spikingjelly_lifnode"] / v for k, v in layer.items()},
        "sdt_small_train_images_per_s": {k: args.batch_size / (v / 1000) for k, v in model.items()},
        "compiled_over_hand_written": model["eager_hand_written_c"] / model["compiled"],
    }))


if __name__ == "__main__":
    main()
