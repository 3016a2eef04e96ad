"""Speed of the engine's spike-driven transformer against the same architecture from stock
SpikingJelly layers, measured side by side in one process (ratios, since machines are noisy).

Both models share one state dict, so they compute the same function; ours runs conv + BN once on
the time-flattened batch and is made ready for inference as `infer` gets it (`ready_for_inference`:
batch norm folded into the convolutions). With `run=`, ours is a trained run's model loaded by
`load_for_run`, as `infer` loads it. Each repetition times ours and then stock, alternately, so that
both meet the same machine load; figures are medians.
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from spikingjelly.activation_based import functional

from engine.data.encoders import encode
from engine.learning.losses import training_loss
from engine.models import create_model, load_for_run, ready_for_inference


def _train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor,
                y: torch.Tensor) -> Callable[[], None]:
    def step() -> None:
        loss = training_loss("tet", model(x), y, multi_label=False)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        functional.reset_net(model)

    return step


def _inference(model: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    @torch.no_grad()
    def run() -> None:
        model(x)
        functional.reset_net(model)

    return run


def _paired_seconds(ours: Callable[[], None], stock: Callable[[], None], repeats: int) -> tuple[float, float]:
    """Median seconds of each, timed alternately after one warm-up call each."""
    ours(), stock()
    times_ours, times_stock = [], []
    for _ in range(repeats):
        for fn, times in ((ours, times_ours), (stock, times_stock)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return statistics.median(times_ours), statistics.median(times_stock)


def _twins(model_name: str, classes: int, spatial_dims: int, timesteps: int, size: int, device: str,
           run: Path | str | None) -> tuple[str, torch.nn.Module, torch.nn.Module]:
    """Ours (fresh, or a trained run's) and the same architecture from stock layers, with ours' weights."""
    if run is None:
        ours = create_model(model_name, 1, classes, spatial_dims, timesteps, size).to(device)
    else:
        loaded = load_for_run(run, fold=False, device=device)
        model_name, ours = loaded.config.model, loaded.model
    stock = create_model(model_name, **{**ours.cfg.to_dict(), "stock": True}).to(device)
    stock.load_state_dict(ours.state_dict())
    return model_name, ours, stock


def run_bench(model_name: str = "sdt_tiny", spatial_dims: int = 2, size: int = 28, timesteps: int = 4,
              batch_size: int = 64, classes: int = 11, steps: int = 5, repeats: int = 10,
              device: str = "cpu", run: Path | str | None = None) -> dict:
    torch.manual_seed(0)
    model_name, ours, stock = _twins(model_name, classes, spatial_dims, timesteps, size, device, run)
    cfg = ours.cfg
    spatial_dims, size, timesteps = cfg.spatial_dims, cfg.input_size, cfg.timesteps
    images = torch.rand(batch_size, cfg.in_channels, *(size,) * spatial_dims, device=device)
    x = encode(images, timesteps)
    y = torch.randint(0, cfg.num_classes, (batch_size, 1), device=device)
    single = encode(images[:1], timesteps)

    ours.train(), stock.train()
    train_ours, train_stock = _paired_seconds(
        _train_step(ours, torch.optim.AdamW(ours.parameters(), lr=1e-4), x, y),
        _train_step(stock, torch.optim.AdamW(stock.parameters(), lr=1e-4), x, y), steps)
    stock.load_state_dict(ours.state_dict())
    stock.eval()
    with torch.no_grad():
        reference = stock(x[:, :8])
        functional.reset_net(stock)
        ready_for_inference(ours)
        difference = (ours(x[:, :8]) - reference).abs().max().item()
        functional.reset_net(ours)
    latency_ours, latency_stock = _paired_seconds(_inference(ours, single), _inference(stock, single), repeats)
    batch_ours, batch_stock = _paired_seconds(_inference(ours, x), _inference(stock, x), max(2, repeats // 3))
    return {
        "model": model_name, "run": str(run) if run is not None else None, "spatial_dims": spatial_dims,
        "size": size, "timesteps": timesteps,
        "batch_size": batch_size, "device": device, "threads": torch.get_num_threads(),
        "train_images_per_s": batch_size / train_ours,
        "stock_train_images_per_s": batch_size / train_stock,
        "train_speed_ratio": train_stock / train_ours,
        "inference_latency_ms": 1000 * latency_ours,
        "stock_inference_latency_ms": 1000 * latency_stock,
        "inference_speedup": latency_stock / latency_ours,
        "batch_inference_images_per_s": batch_size / batch_ours,
        "stock_batch_inference_images_per_s": batch_size / batch_stock,
        "batch_inference_speed_ratio": batch_stock / batch_ours,
        "max_output_difference_folded_vs_stock": difference,
    }
