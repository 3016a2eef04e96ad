"""Where the engine computes: the device a run asks for, its number format, and the CPU threads.

Number format (`precision`): `bf16` runs the forward pass under bfloat16 autocast (weights, optimiser
state and the loss stay float32); `fp32` is full precision. `auto` is bf16 on a GPU and float32 on a
CPU; bf16 on a CPU is offered where the CPU computes bfloat16 natively (AVX-512 BF16 or AMX).

`configure_threads` is the one place that decides how many threads torch uses on the CPU and how
OpenMP's idle threads wait; the CLI, the app and `bench` call it at start-up. Measured on the
project's 2-core machine (`benchmarks/bench_threads.py`): with as many threads as cores, any other
busy thread (the app's GUI thread, a second job, another user) stalls every OpenMP barrier and
training ran 3-9x slower; one core left free and passive waiting avoid that. So the default is
`usable cores - 1` threads (at least 1) with `OMP_WAIT_POLICY=PASSIVE`. The CLI's `--threads`,
else `SPIKEVIEW_THREADS`, else a user's `OMP_NUM_THREADS` override the count; a user's own
`OMP_WAIT_POLICY` is kept.

This module imports torch only inside functions, so `configure_threads` can set OpenMP's
environment before torch loads its OpenMP runtime (which reads it once).
"""
from __future__ import annotations

import logging
import os
import sys
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.errors import UserError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

THREADS_ENV = "SPIKEVIEW_THREADS"
WAIT_POLICY = "PASSIVE"


def pick_device(name: str) -> torch.device:
    """`auto` is the GPU when there is one, else the CPU; `cuda` without a GPU is a user error."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for, but no CUDA GPU is available here.")
    return torch.device(name)


def cpu_computes_bf16() -> bool:
    """Whether this CPU has native bfloat16 arithmetic (else bf16 autocast is emulated, and slow)."""
    import torch

    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def resolve_precision(precision: str, device: torch.device) -> str:
    """`fp32` or `bf16`: what `precision` (auto/fp32/bf16) means on `device`."""
    if precision == "auto":
        return "bf16" if device.type == "cuda" else "fp32"
    return precision


def precision_warning(precision: str, device: torch.device) -> str:
    """One line when the number format asked for will be slow here (bf16 emulated on this CPU), else ''."""
    if resolve_precision(precision, device) == "bf16" and device.type == "cpu" and not cpu_computes_bf16():
        return "This CPU has no native bfloat16 arithmetic: bf16 is emulated and slower than fp32."
    return ""


def autocast_for(device: torch.device, precision: str = "auto") -> AbstractContextManager:
    """bfloat16 autocast where `precision` resolves to bf16 on `device`; else full precision."""
    import torch

    if resolve_precision(precision, device) == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


def describe_accelerator() -> str:
    """One line for a settings form or About: the GPU `auto` would pick, or why there is none."""
    import torch

    if torch.cuda.is_available():
        return f"CUDA {torch.version.cuda}: {torch.cuda.get_device_name(0)}"
    if torch.version.cuda:
        return f"CPU (no GPU found; torch is a CUDA {torch.version.cuda} build)"
    return "CPU (torch is a CPU build)"


# -- CPU threads ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ThreadPlan:
    threads: int
    wait_policy: str
    source: str  # "default" | "--threads" | "SPIKEVIEW_THREADS" | "OMP_NUM_THREADS"

    def to_dict(self) -> dict:
        return {"threads": self.threads, "omp_wait_policy": self.wait_policy, "source": self.source}


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask, which containers and taskset narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_threads(cores: int) -> int:
    """One core left to everything else (the GUI thread, data preparation, other processes)."""
    return max(1, cores - 1)


def _requested_threads(threads: int | None) -> tuple[int | None, str]:
    """An explicit count: the argument, else $SPIKEVIEW_THREADS, else a user's $OMP_NUM_THREADS."""
    if threads is not None:
        return threads, "--threads"
    for name in (THREADS_ENV, "OMP_NUM_THREADS"):
        text = os.environ.get(name, "").strip()
        if text:
            try:
                return int(text), name
            except ValueError:
                raise UserError(f"{name} must be a whole number of threads, not '{text}'.") from None
    return None, "default"


def thread_plan(threads: int | None = None) -> ThreadPlan:
    """How many threads to use: `threads` if given, else $SPIKEVIEW_THREADS, else `default_threads`."""
    requested, source = _requested_threads(threads)
    if requested is not None and requested < 1:
        raise UserError(f"The number of threads must be at least 1, not {requested}.")
    count = requested if requested is not None else default_threads(usable_cores())
    unset_policy = WAIT_POLICY if "torch" not in sys.modules else "OpenMP's default (set before torch loaded)"
    return ThreadPlan(count, os.environ.get("OMP_WAIT_POLICY", unset_policy), source)


def configure_threads(threads: int | None = None) -> ThreadPlan:
    """Apply the thread plan to this process; call it at start-up, before heavy work (idempotent).

    Before torch is imported it only sets OpenMP's environment (`OMP_NUM_THREADS`, which torch takes as
    its thread count, and `OMP_WAIT_POLICY`, read once when OpenMP loads), so the app can call it
    without importing torch; afterwards it sets torch's intra-op threads.
    """
    plan = thread_plan(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(plan.threads)
    else:
        os.environ.setdefault("OMP_WAIT_POLICY", plan.wait_policy)
        os.environ["OMP_NUM_THREADS"] = str(plan.threads)
    log.info("CPU threads: %d (%s), OpenMP wait policy %s", plan.threads, plan.source, plan.wait_policy)
    return plan
