"""The compiled path: a model run through `torch.compile` (inductor, C++ with the system compiler on a
CPU), with a persistent cache, a clean fallback to eager, and the eager module always at hand.

`CompiledModel` wraps a model without copying it: it calls the compiled graph for the batch shape it
compiled (one per mode, training and evaluation) and the eager module for any other shape (a last,
smaller batch), so a run never recompiles. Parameters, state dict, neuron state (`reset_net`) and
hooks stay on the eager module, `CompiledModel.module`; `eager_module` unwraps either kind of
compiled model for code that registers hooks (the probe records through the eager module, since
hooks added after compilation are not seen by the compiled graph).

Compilation happens on the first call, takes minutes on a small CPU the first time (the compiled
kernels are cached in `compile_cache_dir()`, so the next run of the same model starts in seconds),
and falls back to eager with one warning when no C++ compiler is found or compilation fails.
`decide_compile` is the `compile: auto|on|off` option's rule.
"""
from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from spikingjelly.activation_based import functional
from torch import nn

from engine.options import COMPILE_MODES

log = logging.getLogger(__name__)

CACHE_ENV = "SPIKEVIEW_COMPILE_CACHE"
# `auto` compiles a training run that sees at least this many images. Measured on the project's
# 2-core CPU (sdt_small, batch 64): compiling took 65-135 s the first time and about 25 s from the
# cache, and saved 3-5 ms per training image, so 20,000 images repay even a first compilation.
AUTO_MIN_IMAGES = 20_000
# Inductor's channels-last layout made these models slower on the CPU (sdt_tiny: 1.25x over eager
# against 1.75x without it): spikes are reshaped per timestep and for attention, and every fused
# kernel then transposed between the two layouts.
INDUCTOR_OPTIONS = {"layout_optimization": False}


@dataclass(frozen=True)
class CompileDecision:
    enabled: bool
    reason: str
    warn: bool = False  # compiling was wanted but cannot happen here


def compile_cache_dir() -> Path:
    """Where compiled kernels persist: $SPIKEVIEW_COMPILE_CACHE, else the user's cache folder."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "spikeview" / "torch-compile"


def find_cpp_compiler() -> str | None:
    """The C++ compiler inductor would use (its `cpp.cxx` setting: `$CXX` or g++), if it runs."""
    from torch._inductor.cpp_builder import get_cpp_compiler

    try:
        return shutil.which(get_cpp_compiler())
    except Exception:  # noqa: BLE001 - InvalidCxxCompiler, or anything else that means "none usable"
        return None


def decide_compile(mode: str, device: torch.device, images: int | None = None) -> CompileDecision:
    """Whether to compile: `on`/`off` as said; `auto` on a CPU with a C++ compiler for runs of at least
    `AUTO_MIN_IMAGES` images (on a GPU `auto` stays eager: the fused Triton LIF kernels run there)."""
    if mode not in COMPILE_MODES:
        raise ValueError(f"compile mode must be one of {COMPILE_MODES}, not {mode!r}")
    if mode == "off":
        return CompileDecision(False, "compile is off")
    if mode == "auto" and device.type != "cpu":
        return CompileDecision(False, f"auto compiles on the CPU only (this run is on {device.type})")
    if mode == "auto" and images is not None and images < AUTO_MIN_IMAGES:
        return CompileDecision(False, f"a short run ({images} images < {AUTO_MIN_IMAGES}) does not repay compiling")
    if device.type == "cpu" and find_cpp_compiler() is None:
        return CompileDecision(False, "no C++ compiler (g++ or $CXX) was found", warn=True)
    return CompileDecision(True, "compiling with torch.compile (inductor)")


def eager_module(model: nn.Module) -> nn.Module:
    """The module that holds the parameters and hooks, under any compiled wrapper."""
    while True:
        inner = getattr(model, "module", None) if isinstance(model, CompiledModel) else getattr(model, "_orig_mod", None)
        if inner is None:
            return model
        model = inner


def _use_cache_dir() -> None:
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(compile_cache_dir()))


class CompiledModel(nn.Module):
    """A model whose calls go through `torch.compile` for one batch shape per mode, eagerly otherwise.

    `on_compile(message)` is called before each compilation starts (the Trainer turns it into a
    "compiling" event). After a failed compilation the wrapper logs one warning and stays eager.
    """

    def __init__(self, module: nn.Module, on_compile: Callable[[str], None] | None = None) -> None:
        super().__init__()
        self.module = module
        self.on_compile = on_compile
        self.failed: str | None = None
        self._shapes: dict[bool, tuple] = {}  # training mode -> the input shape compiled for it
        _use_cache_dir()
        # kept out of the module tree, so parameters and the state dict are only the eager module's
        object.__setattr__(self, "_compiled", torch.compile(module, dynamic=False, options=INDUCTOR_OPTIONS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.failed is not None:
            return self.module(x)
        compiled_shape = self._shapes.get(self.module.training)  # the eager module's mode is the one that counts
        if compiled_shape is None:
            return self._compile_and_run(x)
        if tuple(x.shape) == compiled_shape:
            return self._compiled(x)
        return self.module(x)

    def _compile_and_run(self, x: torch.Tensor) -> torch.Tensor:
        mode = "training" if self.module.training else "evaluation"
        if self.on_compile is not None:
            self.on_compile(f"Compiling the model for {mode} (minutes the first time; cached afterwards)")
        try:
            out = self._compiled(x)
        except Exception as exc:  # noqa: BLE001 - any compiler failure means: run eagerly
            self.failed = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            log.warning("torch.compile failed (%s); continuing without compilation.", self.failed[:300])
            functional.reset_net(self.module)
            return self.module(x)
        self._shapes[self.module.training] = tuple(x.shape)
        return out


def compile_model(model: nn.Module, mode: str, device: torch.device, images: int | None = None,
                  on_compile: Callable[[str], None] | None = None) -> nn.Module:
    """`model` itself, or a `CompiledModel` around it when `decide_compile` says so (a warning says why not
    when compilation was asked for and cannot happen)."""
    decision = decide_compile(mode, device, images)
    if not decision.enabled:
        if decision.warn:
            log.warning("Not compiling the model: %s; running eagerly.", decision.reason)
        return model
    return CompiledModel(model, on_compile)
