"""Data-parallel training: a copy of the model in each process, each process a share of every batch.

Three ways in, one code path in the Trainer:
- `torchrun --nproc-per-node N [--nnodes M --rdzv-endpoint HOST:PORT] -m engine.cli train ...`: the
  environment names the process (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT);
- `TrainConfig.processes = N` (`spikeview-engine train --nproc N`, the app's "Processes" field): the
  calling process becomes rank 0 and starts N - 1 workers on this machine (`_start_local_workers`);
- one process: a `Distributed` of world size 1, whose collectives do nothing.
gloo on the CPU, NCCL on GPUs (one GPU per process).

`Distributed` does the collective jobs the Trainer needs: agree on stopping, sum numbers, gather
predictions in rank order, send rank 0's model state to the others. Only tensors travel, never pickles.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from engine.errors import UserError
from engine.options import TrainConfig

log = logging.getLogger(__name__)
# DistributedDataParallel registers custom ops, and torch warns on each rank that Triton (a GPU compiler
# it does not need for that) is missing from CPU builds.
logging.getLogger("torch._library.triton").setLevel(logging.ERROR)
LOCALHOST = "127.0.0.1"
STORE_PORT = "SPIKEVIEW_STORE_PORT"  # set for local workers: rank 0's store on this machine
STARTUP_TIMEOUT_S = 600.0  # a local worker that has not checked in by then failed to start
WORKER_EXIT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Distributed:
    """Which process this is among those training one model together."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str = ""  # gloo | nccl; empty with one process

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def device(self, device: torch.device) -> torch.device:
        """The device of this process: its own GPU (LOCAL_RANK) under data parallel."""
        if device.type == "cuda" and self.enabled:
            return torch.device("cuda", self.local_rank)
        return device

    def share(self, count: int) -> tuple[int, int]:
        """This rank's contiguous share [start, stop) of `count` items; shares differ by at most one."""
        return count * self.rank // self.world_size, count * (self.rank + 1) // self.world_size

    # -- collectives (the identity with one process) -------------------------------------------------
    def _comm_device(self) -> torch.device:
        return torch.device("cuda", self.local_rank) if self.backend == "nccl" else torch.device("cpu")

    def any(self, flag: bool) -> bool:
        """True on every rank when it is true on one (a stop asked of rank 0 stops them all)."""
        if not self.enabled:
            return flag
        value = torch.tensor([int(flag)], device=self._comm_device())
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item())

    def sum(self, *values: float) -> list[float]:
        if not self.enabled:
            return list(values)
        total = torch.tensor(values, dtype=torch.float64, device=self._comm_device())
        dist.all_reduce(total)
        return total.tolist()

    def gather_rows(self, array: np.ndarray) -> np.ndarray:
        """Every rank's rows, concatenated in rank order (so contiguous shares come back in order)."""
        if not self.enabled:
            return array
        device = self._comm_device()
        counts = torch.zeros(self.world_size, dtype=torch.int64, device=device)
        counts[self.rank] = len(array)
        dist.all_reduce(counts)
        padded = torch.zeros((int(counts.max()), *array.shape[1:]), dtype=torch.from_numpy(array[:0]).dtype,
                             device=device)
        padded[:len(array)] = torch.from_numpy(np.ascontiguousarray(array)).to(device)
        parts = [torch.empty_like(padded) for _ in range(self.world_size)]
        dist.all_gather(parts, padded)
        return np.concatenate([p[:int(n)].cpu().numpy() for p, n in zip(parts, counts)])

    def broadcast_state(self, module: nn.Module, buffers_only: bool = False) -> None:
        """Rank 0's parameters and buffers (or buffers only) into every rank's copy of `module`."""
        if not self.enabled:
            return
        tensors = list(module.buffers()) if buffers_only else list(module.state_dict().values())
        for tensor in tensors:
            dist.broadcast(tensor, src=0)

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    @contextmanager
    def local_main_first(self) -> Iterator[None]:
        """The first process of each machine does the work inside first (e.g. writing a shared cache)."""
        if self.enabled and self.local_rank != 0:
            dist.barrier()
        yield
        if self.enabled and self.local_rank == 0:
            dist.barrier()


SINGLE = Distributed()


# -- the model --------------------------------------------------------------------------------------
class _SumAcrossProcesses(torch.autograd.Function):
    """All-reduce (sum) whose gradient is the all-reduced gradient: every process's loss depends on
    every process's contribution."""

    @staticmethod
    def forward(ctx, local: torch.Tensor) -> torch.Tensor:
        total = local.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        total = grad.clone()
        dist.all_reduce(total)
        return total


class CollectiveBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm whose training statistics are those of the whole batch across all processes.

    torch's `SyncBatchNorm` accepts GPU tensors only; this one works on any device and backend. Its
    statistics are summed with an autograd-aware all-reduce, so gradients flow through them too.
    """

    collective = True  # False: plain batch norm on this process's batch (see `local_batchnorm`)

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {x.dim()}D input)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.collective and self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        channels, dims = x.shape[1], [0, *range(2, x.dim())]
        local = torch.cat([x.sum(dims), (x * x).sum(dims), x.new_tensor([x.numel() / channels])])
        total = _SumAcrossProcesses.apply(local)
        count = total[-1]
        mean = total[:channels] / count
        var = (total[channels:2 * channels] / count - mean * mean).clamp_min(0)
        if self.track_running_stats:
            self._update_running_stats(mean.detach(), var.detach(), count.item())
        shape = (1, channels) + (1,) * (x.dim() - 2)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        return y * self.weight.view(shape) + self.bias.view(shape) if self.affine else y

    @torch.no_grad()
    def _update_running_stats(self, mean: torch.Tensor, var: torch.Tensor, count: float) -> None:
        self.num_batches_tracked.add_(1)
        momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
        unbiased = var * count / max(count - 1, 1)
        self.running_mean.lerp_(mean, momentum)
        self.running_var.lerp_(unbiased, momentum)


@contextmanager
def local_batchnorm(model: nn.Module) -> Iterator[None]:
    """Within it, the model's synchronised batch norms measure each process's own batch, as plain batch
    norm does (for statistics measured on the same batch in every process). Layers converted for GPUs
    (torch's `SyncBatchNorm`) average identical statistics instead, which is the same up to rounding."""
    layers = [layer for layer in model.modules() if isinstance(layer, CollectiveBatchNorm)]
    for layer in layers:
        layer.collective = False
    try:
        yield
    finally:
        for layer in layers:
            layer.collective = True


def convert_sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Every BatchNorm of `module` synchronised across processes (torch's own on GPUs)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm) and not isinstance(child, CollectiveBatchNorm):
            synced = CollectiveBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                         child.track_running_stats).to(device)
            synced.load_state_dict(child.state_dict())
            if child.affine:
                synced.weight, synced.bias = child.weight, child.bias  # the same Parameters
            synced.train(child.training)
            setattr(module, name, synced)
        else:
            convert_sync_batchnorm(child, device)
    return module


def wrap_model(model: nn.Module, group: Distributed, device: torch.device) -> nn.Module:
    """The model the training step calls: `model` itself, or a DistributedDataParallel around it."""
    if not group.enabled:
        return model
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


# -- starting and ending the processes --------------------------------------------------------------
def _launched_by_environment() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def launched_rank() -> int | None:
    """This process's rank when torchrun (or a local launch) started it among several, else None."""
    return int(os.environ["RANK"]) if _launched_by_environment() else None


def _backend(device: torch.device) -> str:
    return "nccl" if device.type == "cuda" else "gloo"


def resolve_processes(config: TrainConfig, device: torch.device) -> int:
    """How many processes a run uses: torchrun's count, else `config.processes` (0: one per GPU)."""
    if _launched_by_environment():
        return int(os.environ["WORLD_SIZE"])
    gpus = torch.cuda.device_count() if device.type == "cuda" else 0
    wanted = config.processes or max(gpus, 1)
    if device.type == "cuda" and wanted > gpus:
        raise UserError(f"{wanted} processes were asked for, but this machine has {gpus} GPU(s): "
                        "use at most one process per GPU.")
    return wanted


@contextmanager
def data_parallel(config: TrainConfig, device: torch.device, worker: Callable[..., None],
                  worker_args: tuple) -> Iterator[Distributed]:
    """The processes of one run, for its duration: joins torchrun's group, starts local workers that
    run `worker(*worker_args)`, or does nothing with one process."""
    if _launched_by_environment():
        group = _join_environment_group(device)
        try:
            yield group
            _leave_together()
        finally:
            dist.destroy_process_group()
        return
    processes = resolve_processes(config, device)
    if processes <= 1:
        yield SINGLE
        return
    with _local_group(processes, device, worker, worker_args) as group:
        yield group


def _leave_together() -> None:
    """Wait for every rank before the group is torn down: a rank that tears it down while a peer
    still talks to it can make gloo abort the peer ("terminate called without an active exception")."""
    dist.barrier()


def _local_store(world_size: int) -> dist.TCPStore:
    return dist.TCPStore(LOCALHOST, int(os.environ[STORE_PORT]), world_size, is_master=False,
                         timeout=timedelta(seconds=STARTUP_TIMEOUT_S))


def _join_environment_group(device: torch.device) -> Distributed:
    """Join the group the environment names: torchrun's (env://), or rank 0's store for a local worker."""
    group = Distributed(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]),
                        int(os.environ.get("LOCAL_RANK", "0")), _backend(device))
    if device.type == "cuda":
        torch.cuda.set_device(group.local_rank)
    store = _local_store(group.world_size) if STORE_PORT in os.environ else None
    dist.init_process_group(group.backend, store=store, rank=group.rank, world_size=group.world_size)
    log.info("rank %d of %d (%s)", group.rank, group.world_size, group.backend)
    return group


def _ready_key(rank: int) -> str:
    return f"spikeview/ready/{rank}"


def _local_worker_main(env: dict[str, str], worker: Callable[..., None], worker_args: tuple) -> None:
    """A local worker process: the environment of its rank, check in with rank 0, then train."""
    os.environ.update(env)
    torch.set_num_threads(int(env["OMP_NUM_THREADS"]))
    _local_store(int(env["WORLD_SIZE"])).set(_ready_key(int(env["RANK"])), "1")
    try:
        worker(*worker_args)
    except UserError as exc:  # the same mistake stops rank 0, which says it once
        log.error("process %s: %s", env["RANK"], exc)
        raise SystemExit(2) from exc


def _wait_for_workers(store: dist.TCPStore, workers: list) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    for rank, process in enumerate(workers, start=1):
        while not store.check([_ready_key(rank)]):
            if process.exitcode is not None:
                raise RuntimeError(f"Training process {rank} exited (status {process.exitcode}) before it "
                                   "started; its messages are above.")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Training process {rank} did not start within {STARTUP_TIMEOUT_S:.0f} s.")
            time.sleep(0.05)


@contextmanager
def _local_group(processes: int, device: torch.device, worker: Callable[..., None],
                 worker_args: tuple) -> Iterator[Distributed]:
    """This process as rank 0 of `processes`, the others started here; the CPU cores are shared out."""
    threads = max(1, torch.get_num_threads() // processes)
    store = dist.TCPStore(LOCALHOST, 0, processes, is_master=True, wait_for_workers=False,
                          timeout=timedelta(seconds=STARTUP_TIMEOUT_S))
    context = multiprocessing.get_context("spawn")
    workers = []
    for rank in range(1, processes):
        env = {STORE_PORT: str(store.port), "RANK": str(rank),
               "WORLD_SIZE": str(processes), "LOCAL_RANK": str(rank), "LOCAL_WORLD_SIZE": str(processes),
               "OMP_NUM_THREADS": str(threads)}
        workers.append(context.Process(target=_local_worker_main, args=(env, worker, worker_args),
                                       name=f"spikeview-rank{rank}"))
    previous_threads = torch.get_num_threads()
    failed = True
    try:
        for process in workers:
            process.start()
        _wait_for_workers(store, workers)
        group = Distributed(0, processes, 0, _backend(device))
        if device.type == "cuda":
            torch.cuda.set_device(0)
        dist.init_process_group(group.backend, store=store, rank=0, world_size=processes)
        torch.set_num_threads(threads)
        log.info("training on %d local processes (%s, %d thread(s) each)", processes, group.backend, threads)
        yield group
        _leave_together()
        failed = False
    except UserError:  # every rank meets the same mistake; rank 0 says it
        raise
    except Exception as exc:
        for process in workers:
            if process.pid is not None:
                process.join(2.0)
        codes = {p.name: p.exitcode for p in workers if p.exitcode}
        if codes:  # a worker's failure is the real story
            raise RuntimeError(f"A training process failed ({codes}); its messages are above.") from exc
        raise
    finally:
        torch.set_num_threads(previous_threads)
        if dist.is_initialized():
            dist.destroy_process_group()
        _end_workers(workers, failed)


def _end_workers(workers: list, failed: bool) -> None:
    """Wait for the workers to finish (they end with rank 0); stop any that rank 0's failure left waiting."""
    started = [p for p in workers if p.pid is not None]
    deadline = time.monotonic() + (5.0 if failed else WORKER_EXIT_TIMEOUT_S)
    for process in started:
        process.join(max(0.1, deadline - time.monotonic()))
    for process in started:
        if process.is_alive():
            log.warning("stopping %s, still running after rank 0 ended", process.name)
            process.terminate()
            process.join(5)
