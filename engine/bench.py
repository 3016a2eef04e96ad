"""Speed of the engine's spike-driven transformer against the same architecture from stock
SpikingJelly layers, measured side by side in one process (ratios, since machines are noisy).

Both models share one state dict, so they compute the same function; ours runs conv + BN once on
the time-flattened batch and folds BN into the conv for inference.
"""
from __future__ import annotations

import time

import torch
from spikingjelly.activation_based import functional

from engine.data.encoders import encode
from engine.learning.losses import training_loss
from engine.models import create_model
from engine.models.energy import estimate_energy


def _train_images_per_s(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> float:
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()
    timings = []
    for step in range(steps + 1):
        start = time.perf_counter()
        loss = training_loss("tet", model(x), y, multi_label=False)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        functional.reset_net(model)
        if step:  # the first step warms caches up
            timings.append(time.perf_counter() - start)
    timings.sort()
    return x.shape[1] / timings[len(timings) // 2]


@torch.no_grad()
def _latency_ms(model: torch.nn.Module, x: torch.Tensor, repeats: int) -> float:
    model.eval()
    timings = []
    for step in range(repeats + 1):
        start = time.perf_counter()
        model(x)
        functional.reset_net(model)
        if step:
            timings.append(time.perf_counter() - start)
    timings.sort()
    return 1000 * timings[len(timings) // 2]


def run_bench(model_name: str = "sdt_tiny", spatial_dims: int = 2, size: int = 28, timesteps: int = 4,
              batch_size: int = 64, classes: int = 11, steps: int = 5, repeats: int = 10,
              device: str = "cpu") -> dict:
    torch.manual_seed(0)
    ours = create_model(model_name, 1, classes, spatial_dims, timesteps, size).to(device)
    stock = create_model(model_name, 1, classes, spatial_dims, timesteps, size, stock=True).to(device)
    stock.load_state_dict(ours.state_dict())
    images = torch.rand(batch_size, 1, *(size,) * spatial_dims, device=device)
    x = encode(images, timesteps)
    y = torch.randint(0, classes, (batch_size, 1), device=device)
    single = encode(images[:1], timesteps)

    result = {"model": model_name, "spatial_dims": spatial_dims, "size": size, "timesteps": timesteps,
              "batch_size": batch_size, "device": device, "threads": torch.get_num_threads()}
    result["train_images_per_s"] = _train_images_per_s(ours, x, y, steps)
    result["stock_train_images_per_s"] = _train_images_per_s(stock, x, y, steps)
    result["inference_latency_ms"] = _latency_ms(_folded(ours), single, repeats)
    result["stock_inference_latency_ms"] = _latency_ms(stock, single, repeats)
    result["batch_inference_images_per_s"] = batch_size / _latency_ms(ours, x, max(2, repeats // 3)) * 1000
    result["stock_batch_inference_images_per_s"] = batch_size / _latency_ms(stock, x, max(2, repeats // 3)) * 1000
    result["train_speed_ratio"] = result["train_images_per_s"] / result["stock_train_images_per_s"]
    result["inference_speedup"] = result["stock_inference_latency_ms"] / result["inference_latency_ms"]
    result["batch_inference_speed_ratio"] = (result["batch_inference_images_per_s"]
                                             / result["stock_batch_inference_images_per_s"])
    with torch.no_grad():
        ours.eval(), stock.eval()
        difference = (ours(x[:, :8]) - stock(x[:, :8])).abs().max().item()
        functional.reset_net(ours), functional.reset_net(stock)
    result["max_output_difference"] = difference
    result["energy"] = estimate_energy(ours, x[:, :8]).to_dict()
    return result


def _folded(model: torch.nn.Module) -> torch.nn.Module:
    model.eval()
    model.fold_batch_norm()
    return model
