"""`spikeview-engine bench`: training and inference speed, side by side in one process, for 2D and 3D.

Contenders, all on the same input (batch of encoded images [T, B, C, *spatial]):
- `ours_eager`: the engine's transformer as the Trainer runs it without compiling (inference as `infer`
  gets it, batch norm folded); with `run=`, a trained run's model loaded by `load_for_run`;
- `ours_compiled`: the same model through `engine.models.compiled.CompiledModel` (the `compile` option);
- `stock_layers`: the same architecture built from stock SpikingJelly layers, with ours' weights (so both
  compute the same function: `max_output_difference_vs_stock` checks it);
- `spikingjelly_sdt`: SpikingJelly 2.0's own `SpikeDrivenTransformer` at a matched parameter count
  (`match_spikingjelly_sdt`): the same token grid, heads and (where a width gets within 10%) depth as
  ours, its width chosen for the parameter count. It is 2D only: in 3D it is reported as missing.

Each repetition times every contender once, in turn, so all meet the same machine load; figures are
medians, and ratios (ours over the others) are what to compare between machines. Every contender runs
in each number format asked for (`precisions`: fp32, bf16 autocast, or auto = the device's default, as
`engine.device.autocast_for`); with more than one, a contender's name ends in its format
(`ours_compiled_bf16`), so that one run compares across formats too. On CUDA the result also holds the fused LIF kernel's achieved
memory bandwidth as a fraction of a device-to-device copy measured in the same run.
"""
from __future__ import annotations

import copy
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from spikingjelly.activation_based import functional
from torch import nn

from engine.data.encoders import encode
from engine.device import autocast_for, pick_device, resolve_precision
from engine.models import count_parameters, create_model, load_for_run, ready_for_inference
from engine.models.compiled import CompiledModel, decide_compile
from engine.models.spike_driven_transformer import stem_stride

MATCH_TOLERANCE = 0.10  # parameter counts within 10%
DEFAULT_BATCH = {2: 64, 3: 16}


# -- SpikingJelly's own spike-driven transformer, matched ------------------------------------------
def spikingjelly_sdt(embed_dims: int, depths: int, heads: int, pooling_stat: str, in_channels: int,
                     num_classes: int, timesteps: int) -> nn.Module:
    from spikingjelly.activation_based.model.spike_driven_transformer import SpikeDrivenTransformer

    return SpikeDrivenTransformer(T=timesteps, in_channels=in_channels, num_classes=num_classes,
                                  embed_dims=embed_dims, num_heads=heads, depths=depths, pooling_stat=pooling_stat)


def token_pooling(input_size: int, spatial_dims: int) -> str:
    """SpikingJelly's pooling mask that leaves the same token grid as ours (stem stride, then one halving)."""
    halvings = round(math.log2(stem_stride(input_size, spatial_dims) * 2))
    return ("1" * min(halvings, 4)).ljust(4, "0")


def match_spikingjelly_sdt(target: int, heads: int, depth: int, input_size: int, in_channels: int,
                           num_classes: int, timesteps: int) -> dict:
    """SpikingJelly SDT settings with about `target` parameters: of the depths where some width gets within
    `MATCH_TOLERANCE`, the one nearest ours (else the closest count). Widths are multiples of 8 and `heads`."""
    step = math.lcm(8, heads)
    pooling = token_pooling(input_size, 2)
    best_by_depth = {}
    for depths in range(1, 9):
        candidates = []
        for embed in range(step, 2049, step):
            params = count_parameters(spikingjelly_sdt(embed, depths, heads, pooling, in_channels, num_classes, timesteps))
            candidates.append((abs(params - target) / target, embed, params))
            if params > target:
                break
        best_by_depth[depths] = min(candidates)
    within = [d for d, (gap, _, _) in best_by_depth.items() if gap <= MATCH_TOLERANCE]
    if within:  # the depth nearest ours among those matched within the tolerance
        depths = min(within, key=lambda d: (abs(d - depth), best_by_depth[d][0]))
    else:
        depths = min(best_by_depth, key=lambda d: best_by_depth[d][0])
    gap, embed, params = best_by_depth[depths]
    return {"embed_dims": embed, "depths": depths, "heads": heads, "pooling_stat": pooling, "parameters": params,
            "parameter_gap": gap}


# -- timing ---------------------------------------------------------------------------------------
def _train_step(model: nn.Module, state: nn.Module, x: torch.Tensor, y: torch.Tensor,
                device: torch.device, precision: str) -> Callable[[], None]:
    optimizer = torch.optim.AdamW(state.parameters(), lr=1e-4)

    def step() -> None:
        with autocast_for(device, precision):
            out = model(x).float()
        logits = out.mean(0) if out.ndim == 3 else out  # ours: [T, B, classes]; SpikingJelly's: [B, classes]
        loss = nn.functional.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        functional.reset_net(state)

    return step


def _inference(model: nn.Module, state: nn.Module, x: torch.Tensor, device: torch.device, precision: str
               ) -> Callable[[], None]:
    @torch.no_grad()
    def run() -> None:
        with autocast_for(device, precision):
            model(x)
        functional.reset_net(state)

    return run


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _timed(fn: Callable[[], None], device: torch.device) -> float:
    _synchronize(device)
    start = time.perf_counter()
    fn()
    _synchronize(device)
    return time.perf_counter() - start


def paired_seconds(contenders: dict[str, Callable[[], None]], repeats: int, device: torch.device
                   ) -> tuple[dict[str, float], dict[str, float]]:
    """(first-call seconds, median seconds per call) of each, timed in turn after the first call each."""
    first = {name: _timed(fn, device) for name, fn in contenders.items()}
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            times[name].append(_timed(fn, device))
    return first, {name: statistics.median(values) for name, values in times.items()}


# -- the contenders -------------------------------------------------------------------------------
def _ours(model_name: str, spatial_dims: int, size: int, timesteps: int, classes: int, device: torch.device,
          run: Path | str | None) -> tuple[str, nn.Module]:
    if run is None:
        return model_name, create_model(model_name, 1, classes, spatial_dims, timesteps, size).to(device)
    loaded = load_for_run(run, fold=False, device=str(device))
    return loaded.config.model, loaded.model


def _contenders(model_name: str, ours: nn.Module, compiled: bool, device: torch.device
                ) -> tuple[dict[str, nn.Module], dict]:
    """name -> model (ours' weights wherever the architecture is ours), and what the JSON says about them."""
    cfg = ours.cfg
    models = {"ours_eager": ours}
    if compiled:
        models["ours_compiled"] = CompiledModel(copy.deepcopy(ours))
    stock = create_model(model_name, **{**cfg.to_dict(), "stock": True}).to(device)
    stock.load_state_dict(ours.state_dict())
    models["stock_layers"] = stock
    notes: dict = {"parameters": {"ours": count_parameters(ours)}}
    if cfg.spatial_dims == 2:
        match = match_spikingjelly_sdt(count_parameters(ours), cfg.heads, cfg.depth, cfg.input_size, cfg.in_channels,
                                       cfg.num_classes, cfg.timesteps)
        models["spikingjelly_sdt"] = spikingjelly_sdt(match["embed_dims"], match["depths"], match["heads"],
                                                      match["pooling_stat"], cfg.in_channels, cfg.num_classes,
                                                      cfg.timesteps).to(device)
        notes["spikingjelly_sdt"] = match
    else:
        notes["spikingjelly_sdt"] = "not available: SpikingJelly's SpikeDrivenTransformer is 2D only"
    return models, notes


def _output_difference(ours: nn.Module, stock: nn.Module, x: torch.Tensor) -> float:
    """Ours (batch norm folded, as `infer` runs it) against the stock twin, in evaluation mode."""
    with torch.no_grad():
        reference = stock(x)
        functional.reset_net(stock)
        difference = (ours(x) - reference).abs().max().item()
        functional.reset_net(ours)
    return difference


def _ratios(rates: dict[str, float]) -> dict[str, float]:
    """Each of ours (eager, compiled; in each format) over every other contender."""
    return {f"{ours}_over_{other}": rates[ours] / rates[other]
            for ours in rates if ours.startswith("ours_") for other in rates if other != ours}


def _in_formats(factory: Callable[[str, str], Callable[[], None]], names: list[str], precisions: tuple[str, ...]
                ) -> dict[str, Callable[[], None]]:
    """factory(contender, precision) for each contender in each format; names suffixed when several."""
    if len(precisions) == 1:
        return {name: factory(name, precisions[0]) for name in names}
    return {f"{name}_{precision}": factory(name, precision) for name in names for precision in precisions}


def bench_dims(model_name: str, spatial_dims: int, size: int, timesteps: int, batch_size: int, classes: int,
               steps: int, repeats: int, device: torch.device, compile_mode: str, run: Path | str | None,
               precisions: tuple[str, ...] = ("auto",)) -> dict:
    """Every contender in one spatial dimensionality: training and inference images/s, side by side."""
    torch.manual_seed(0)
    model_name, ours = _ours(model_name, spatial_dims, size, timesteps, classes, device, run)
    cfg = ours.cfg
    compiled = decide_compile(compile_mode, device).enabled
    models, notes = _contenders(model_name, ours, compiled, device)
    images = torch.rand(batch_size, cfg.in_channels, *(cfg.input_size,) * cfg.spatial_dims, device=device)
    x = encode(images, cfg.timesteps)
    y = torch.randint(0, cfg.num_classes, (batch_size,), device=device)
    eager_of = {name: getattr(model, "module", model) for name, model in models.items()}

    for model in models.values():
        model.train()
    names = list(models)
    first_train, train = paired_seconds(_in_formats(
        lambda name, precision: _train_step(models[name], eager_of[name], x, y, device, precision), names, precisions),
        steps, device)
    models["stock_layers"].load_state_dict(ours.state_dict())  # the twins compute the same function again
    for model in eager_of.values():
        ready_for_inference(model)  # ours: batch norm folded; the others: evaluation mode
    difference = _output_difference(ours, models["stock_layers"], x[:, :8])
    first_infer, infer = paired_seconds(_in_formats(
        lambda name, precision: _inference(models[name], eager_of[name], x, device, precision), names, precisions),
        repeats, device)
    train_rates = {name: batch_size / seconds for name, seconds in train.items()}
    infer_rates = {name: batch_size / seconds for name, seconds in infer.items()}
    result = {
        "model": model_name, "run": str(run) if run is not None else None, "spatial_dims": cfg.spatial_dims,
        "size": cfg.input_size, "timesteps": cfg.timesteps, "batch_size": batch_size, **notes,
        "precisions": {precision: resolve_precision(precision, device) for precision in precisions},
        "train_images_per_s": train_rates, "inference_images_per_s": infer_rates,
        "train_ratios": _ratios(train_rates), "inference_ratios": _ratios(infer_rates),
        "max_output_difference_vs_stock": difference,
    }
    if compiled:
        result["compile_seconds"] = {"training_first_step": _first_of("ours_compiled", first_train),
                                     "inference_first_batch": _first_of("ours_compiled", first_infer),
                                     "failed": models["ours_compiled"].failed}
    else:
        result["ours_compiled"] = f"not measured: {decide_compile(compile_mode, device).reason}"
    return result


def _first_of(contender: str, first_seconds: dict[str, float]) -> dict[str, float] | float:
    """A contender's first-call seconds (per format when several were measured)."""
    if contender in first_seconds:
        return first_seconds[contender]
    return {name: seconds for name, seconds in first_seconds.items() if name.startswith(contender + "_")}


def lif_kernel_bandwidth(x_shape: tuple[int, ...], device: torch.device, repeats: int = 20) -> dict:
    """The fused LIF forward kernel's bandwidth against a device-to-device copy of the same input (CUDA)."""
    from engine.models.lif_triton import lif_forward_bytes, lif_triton

    x = torch.randn(x_shape, device=device, dtype=torch.bfloat16).requires_grad_()
    v0 = torch.zeros(x_shape[1:], device=device)
    copy_target = torch.empty_like(x)
    kernel = {"lif_forward": lambda: lif_triton(x, v0, 2.0, 1.0, 2.0),
              "copy": lambda: copy_target.copy_(x.detach())}
    _first, seconds = paired_seconds(kernel, repeats, device)
    lif_bytes, copy_bytes = lif_forward_bytes(x), 2 * x.numel() * x.element_size()
    lif_bandwidth, copy_bandwidth = lif_bytes / seconds["lif_forward"], copy_bytes / seconds["copy"]
    return {"shape": list(x_shape), "dtype": "bfloat16", "lif_forward_gb_per_s": lif_bandwidth / 1e9,
            "copy_gb_per_s": copy_bandwidth / 1e9, "fraction_of_copy": lif_bandwidth / copy_bandwidth}


def run_bench(model_name: str = "sdt_small", dims: tuple[int, ...] = (2, 3), size: int = 28, timesteps: int = 4,
              batch_size: int | None = None, classes: int = 11, steps: int = 5, repeats: int = 5,
              device: str = "cpu", compile_mode: str = "on", run: Path | str | None = None,
              precisions: tuple[str, ...] = ("auto",)) -> dict:
    """One JSON object: a section per spatial dimensionality (`dims`; with `run=`, the run's own only)."""
    torch_device = pick_device(device)
    if run is not None:
        dims = (load_for_run(run, fold=False, device="cpu").model.cfg.spatial_dims,)
    sections = {}
    for spatial_dims in dims:
        batch = batch_size or DEFAULT_BATCH[spatial_dims]
        sections[f"{spatial_dims}d"] = bench_dims(model_name, spatial_dims, size, timesteps, batch, classes, steps,
                                                 repeats, torch_device, compile_mode, run, precisions)
    result = {"device": str(torch_device), "threads": torch.get_num_threads(), "torch": torch.__version__, **sections}
    if torch_device.type == "cuda":  # ~0.8 GB moved per call: well above launch overheads
        result["lif_kernel"] = lif_kernel_bandwidth((timesteps, 128, 256, 28, 28), torch_device)
    return result
