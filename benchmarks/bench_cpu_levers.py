"""The CPU training levers of the compiled path, one at a time; prints one JSON object.

Compiled `sdt_small` training steps (2D, 28 px, T=4, batch 64, one thread), in each number format asked
for, with the engine as it is (`engine`) and with each lever taken back:
- `fp32_spikes`: the LIF nodes hand on float32 spikes, as they did before (the engine's spikes come in
  the input's format, bf16 under bf16 autocast);
- `pointwise_as_convolution`: 1×1 convolutions stay oneDNN convolutions (the engine runs them as
  matrix products in compiled bf16 training);
- `neither`: both taken back, the compiled path as it was on 2026-11-23.
In fp32 neither lever applies (the spikes are fp32 already, and 1×1 layers stay convolutions), so there
the variants run the same code and their spread is the measurement's noise.
Each variant is a child process (the levers are taken back by patching the engine before the model
is built), and the variants run in turn, `--rounds` times, so they meet the same machine load; figures
are medians over rounds of each child's median step. Compilation is excluded (and cached after the
first round).

    .venv/bin/python benchmarks/bench_cpu_levers.py [--precision bf16 fp32] [--rounds 2] [--steps 6]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
VARIANTS = ("engine", "fp32_spikes", "pointwise_as_convolution", "neither")


def take_back(variant: str) -> None:
    """Patch the engine so that `variant`'s levers are as they were before."""
    import functools

    import torch

    from engine.models import layers, neurons

    if variant in ("fp32_spikes", "neither"):
        neurons.lif_torch = functools.partial(neurons.lif_torch, spike_dtype=torch.float32)
    if variant in ("pointwise_as_convolution", "neither"):
        layers.is_pointwise = lambda conv: False


def child(variant: str, precision: str, steps: int) -> None:
    import time

    from engine.device import configure_threads

    configure_threads(1)  # before torch loads OpenMP
    import torch

    from engine.bench import _train_step
    from engine.models import create_model
    from engine.models.compiled import CompiledModel

    take_back(variant)

    torch.manual_seed(0)
    model = create_model("sdt_small", 1, 11, 2, 4, 28)
    x, y = torch.rand(4, 64, 1, 28, 28), torch.randint(0, 11, (64,))
    step = _train_step(CompiledModel(model), model, x, y, torch.device("cpu"), precision)
    step(), step()  # compile, then one warm step
    seconds = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - start)
    print(json.dumps({"seconds_per_step": statistics.median(seconds)}))


def measure(variant: str, precision: str, steps: int) -> float:
    out = subprocess.run([sys.executable, __file__, "--child", variant, "--precision", precision, "--steps",
                          str(steps)], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["seconds_per_step"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", nargs="+", default=["bf16", "fp32"], choices=["bf16", "fp32"])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.precision[0], args.steps)
    runs = [(p, v) for _ in range(args.rounds) for p in args.precision for v in VARIANTS]
    seconds: dict[str, dict[str, list[float]]] = {p: {v: [] for v in VARIANTS} for p in args.precision}
    for precision, variant in tqdm(runs, desc="variants", file=sys.stderr):
        seconds[precision][variant].append(measure(variant, precision, args.steps))
    result = {"model": "sdt_small", "batch_size": 64, "timesteps": 4, "threads": 1, "rounds": args.rounds}
    for precision, by_variant in seconds.items():
        rates = {v: 64 / statistics.median(s) for v, s in by_variant.items()}
        result[precision] = {"train_images_per_s": rates,
                             "per_round_images_per_s": {v: [64 / x for x in s] for v, s in by_variant.items()},
                             "engine_over": {v: rates["engine"] / rates[v] for v in VARIANTS if v != "engine"}}
    print(json.dumps(result))


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
