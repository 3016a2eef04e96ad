"""Training time per epoch of the same network and data in the three implementations (BPTT)."""
from __future__ import annotations

import logging
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from engine.snndeep.config import IMPLEMENTATIONS, ModelConfig, RuleConfig
from engine.snndeep.encoding import rate_encode
from engine.snndeep.models import copy_weights, create_snn

log = logging.getLogger(__name__)


@dataclass
class BenchConfig:
    samples: int = 2048
    hidden: int = 256
    timesteps: int = 16
    batch_size: int = 128
    epochs: int = 3  # timed epochs per implementation, interleaved to share machine noise
    threads: int = 1  # one thread per process: stable on a shared CPU (0: torch's default)
    medmnist_root: str = ""  # OrganAMNIST liver-vs-rest when given, else random inputs


def bench_data(cfg: BenchConfig) -> tuple[np.ndarray, np.ndarray, str]:
    if cfg.medmnist_root and Path(cfg.medmnist_root).is_dir():
        from engine.snndeep.config import SampleConfig
        from engine.snndeep.samples import organamnist_samples

        samples = organamnist_samples(Path(cfg.medmnist_root), SampleConfig(), {"train": cfg.samples, "val": 1, "test": 1})
        train = samples.official_split == "train"
        return samples.x[train], samples.y[train], "organamnist liver-vs-rest (28x28)"
    rng = np.random.default_rng(0)
    return rng.random((cfg.samples, 784), dtype=np.float32), rng.integers(0, 2, cfg.samples), "uniform random 784-d"


def _epoch(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: BenchConfig, optimiser) -> float:
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    for begin in range(0, len(y), cfg.batch_size):
        _, out = model(rate_encode(x[begin : begin + cfg.batch_size], cfg.timesteps, generator))
        loss = torch.nn.functional.cross_entropy(out.sum(0), y[begin : begin + cfg.batch_size])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    return time.perf_counter() - start


def run_benchmark(cfg: BenchConfig) -> dict:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    x_np, y_np, source = bench_data(cfg)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    model_cfg = ModelConfig(hidden=cfg.hidden, timesteps=cfg.timesteps)
    torch.manual_seed(0)
    models = {name: create_snn(name, x.shape[1], 2, model_cfg) for name in IMPLEMENTATIONS}
    for model in list(models.values())[1:]:
        copy_weights(models["custom"], model)
    optimisers = {name: torch.optim.Adam(m.parameters(), lr=RuleConfig().lr) for name, m in models.items()}
    for name, model in models.items():  # warm-up: allocator, lazy imports
        _epoch(model, x[: cfg.batch_size], y[: cfg.batch_size], cfg, optimisers[name])
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(cfg.epochs):
        for name, model in models.items():
            times[name].append(_epoch(model, x, y, cfg, optimisers[name]))
    per_epoch = {name: float(np.median(t)) for name, t in times.items()}
    return {
        "benchmark": "snndeep_bptt_epoch",
        "data": source,
        "config": asdict(cfg),
        "network": f"{x.shape[1]}-{cfg.hidden}-2 LIF, T={cfg.timesteps}, batch {cfg.batch_size}, rate-coded, ATan surrogate",
        "seconds_per_epoch": per_epoch,
        "all_epochs_s": times,
        "speedup_custom_vs_snntorch": per_epoch["snntorch"] / per_epoch["custom"],
        "speedup_custom_vs_spikingjelly": per_epoch["spikingjelly"] / per_epoch["custom"],
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
    }
