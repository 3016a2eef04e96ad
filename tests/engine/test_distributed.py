"""Data-parallel training on the CPU (gloo): two processes follow the one-process run, rank 0 alone writes.

Tolerance, at the same (global) batch size, with shares of unequal size (batch 33):
- the first epoch (train loss, val loss, train/val ACC and AUC) within a relative 1e-5: only rounding
  differs, so the sharding, the gradient weighting, the random streams, SyncBatchNorm and the gathered
  predictions are exact;
- the final val/test losses within a relative 2e-2 and ACC/AUC within 0.05. Spiking thresholds amplify
  rounding as training goes on: measured here, one process on 1 thread against the same on 2 threads
  already differs by about 2e-3 in val loss after two epochs.
"""
from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from torch import nn

from engine.learning.distributed import SINGLE, CollectiveBatchNorm, Distributed, convert_sync_batchnorm
from engine.learning.trainer import Trainer, TrainEvent
from engine.options import TrainConfig
from engine.runs.rundir import RunDir

RUN_FILES = {"config.json", "metrics.jsonl", "best.safetensors", "best.json", "last.safetensors", "last.json",
             "calibration.json"}


def _config(medmnist_root: Path, **changes) -> TrainConfig:
    values = dict(dataset="breastmnist", data_root=str(medmnist_root), epochs=2, batch_size=33, lr=5e-3,
                  timesteps=2, device="cpu", sync_batchnorm=True, probe_every=0,
                  model_overrides={"dims": [8, 16, 32], "heads": 2})
    values.update(changes)
    return TrainConfig(**values)


def _assert_follows(run: Path, summary: dict, reference: tuple[Path, dict]) -> None:
    """`run` followed the one-process `reference` run within the tolerances above."""
    first, expected = RunDir(run).read_metrics()[0], RunDir(reference[0]).read_metrics()[0]
    for key in ("train_loss", "val_loss", "train_acc", "train_auc", "val_acc", "val_auc"):
        assert first[key] == pytest.approx(expected[key], rel=1e-5), f"first epoch {key}"
    for key in ("val_loss", "test_loss"):
        assert summary[key] == pytest.approx(reference[1][key], rel=2e-2), key
    for key in ("val_acc", "val_auc", "test_acc", "test_auc"):
        assert summary[key] == pytest.approx(reference[1][key], abs=0.05), key


@pytest.fixture(scope="module")
def one_process(tmp_path_factory, medmnist_root) -> tuple[Path, dict]:
    run = tmp_path_factory.mktemp("ddp") / "one"
    return run, Trainer(_config(medmnist_root), run).run()


@pytest.mark.slow
def test_two_processes_match_one_process_and_write_the_run_once(one_process, medmnist_root, tmp_path):
    events: list[TrainEvent] = []
    summary = Trainer(_config(medmnist_root, processes=2), tmp_path / "two", callbacks=[events.append]).run()
    assert summary["processes"] == 2 and one_process[1]["processes"] == 1
    _assert_follows(tmp_path / "two", summary, one_process)
    assert one_process[1]["val_auc"] > 0.6, "the comparison is made on a run that learns"
    kinds = [e.kind for e in events]
    assert kinds.count("start") == 1 and kinds.count("epoch") == 2 and kinds[-1] == "finished"
    assert events[0].metrics["processes"] == 2 and events[0].metrics["backend"] == "gloo"
    run = RunDir(tmp_path / "two")
    assert {p.name for p in run.path.iterdir()} == RUN_FILES
    assert [row["epoch"] for row in run.read_metrics()] == [0, 1], "one writer: each epoch once"
    assert run.read_config()["train"]["processes"] == 2


@pytest.mark.slow
def test_resume_under_two_processes(one_process, medmnist_root, tmp_path):
    trainer = Trainer(_config(medmnist_root, processes=2), tmp_path / "run")
    trainer.callbacks.append(lambda event: event.kind == "epoch" and trainer.stop())  # rank 0 asks; all stop
    assert trainer.run()["status"] == "cancelled"
    assert [row["epoch"] for row in RunDir(tmp_path / "run").read_metrics()] == [0]
    resumed = Trainer(_config(medmnist_root, processes=2), tmp_path / "run", resume=True).run()
    assert [row["epoch"] for row in RunDir(tmp_path / "run").read_metrics()] == [0, 1]
    _assert_follows(tmp_path / "run", resumed, one_process)


@pytest.mark.slow
def test_torchrun_starts_the_cli_and_only_rank_0_speaks(tmp_path):
    run = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               "-m", "engine.cli", "train", "--dataset", "phantom2d", "--epochs", "1", "--batch-size", "50",
               "--train-limit", "100", "--model-options", '{"dims": [8, 16, 32]}', "--device", "cpu",
               "--out", str(run), "--exact-out"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, "rank 1 prints nothing"
    summary = json.loads(lines[0])
    assert summary["status"] == "finished" and summary["processes"] == 2
    assert {p.name for p in run.iterdir()} == RUN_FILES
    assert len(RunDir(run).read_metrics()) == 1


def test_torchrun_needs_one_named_run(monkeypatch, tmp_path, capsys):
    from engine.cli import main

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert main(["train", "--dataset", "phantom2d", "--out", str(tmp_path)]) == 2
    assert "--exact-out" in capsys.readouterr().err


def test_shares_cover_every_item_once():
    for world in (1, 2, 3, 5):
        for count in (0, 1, 7, 32, 33):
            shares = [Distributed(rank, world).share(count) for rank in range(world)]
            assert shares[0][0] == 0 and shares[-1][1] == count
            assert all(a[1] == b[0] for a, b in zip(shares, shares[1:]))
            assert max(b - a for a, b in shares) - min(b - a for a, b in shares) <= 1
    assert SINGLE.share(10) == (0, 10) and SINGLE.gather_rows(torch.ones(3).numpy()).shape == (3,)


def _batchnorm_rank(rank: int, store_path: str, batch: torch.Tensor, weights: torch.Tensor, queue) -> None:
    """One of two processes: CollectiveBatchNorm on its half of `batch`; reports output and gradients."""
    dist.init_process_group("gloo", store=dist.FileStore(store_path, 2), rank=rank, world_size=2)
    try:
        norm = convert_sync_batchnorm(nn.Sequential(nn.BatchNorm2d(3)), torch.device("cpu"))[0]
        assert isinstance(norm, CollectiveBatchNorm)
        half = batch[rank * 3:(rank + 1) * 3].clone().requires_grad_()
        out = norm(half)
        (out * weights[rank * 3:(rank + 1) * 3]).sum().backward()
        tensors = (out.detach(), half.grad, norm.weight.grad, norm.bias.grad, norm.running_mean, norm.running_var)
        queue.put((rank, *(t.numpy().copy() for t in tensors)))  # arrays: tensors would be shared, not copied
    finally:
        dist.destroy_process_group()


def test_collective_batchnorm_is_batchnorm_over_the_whole_batch(tmp_path):
    generator = torch.Generator().manual_seed(0)
    batch = torch.randn(6, 3, 5, 5, generator=generator) * 2 + 1
    weights = torch.randn(6, 3, 5, 5, generator=generator)
    reference = nn.BatchNorm2d(3)
    whole = batch.clone().requires_grad_()
    expected = reference(whole)
    (expected * weights).sum().backward()

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [context.Process(target=_batchnorm_rank, args=(rank, str(tmp_path / "store"), batch, weights, queue))
                 for rank in range(2)]
    for process in processes:
        process.start()
    results = {item[0]: [torch.from_numpy(a) for a in item[1:]] for item in (queue.get(timeout=120) for _ in processes)}
    for process in processes:
        process.join(30)
        assert process.exitcode == 0
    out = torch.cat([results[0][0], results[1][0]])
    grad = torch.cat([results[0][1], results[1][1]])
    torch.testing.assert_close(out, expected.detach(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grad, whole.grad, rtol=1e-4, atol=1e-5)
    # each process holds its part of the parameter gradients; data parallel sums (averages) them
    torch.testing.assert_close(results[0][2] + results[1][2], reference.weight.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(results[0][3] + results[1][3], reference.bias.grad, rtol=1e-4, atol=1e-5)
    for rank in range(2):
        torch.testing.assert_close(results[rank][4], reference.running_mean)
        torch.testing.assert_close(results[rank][5], reference.running_var)


def test_one_process_keeps_plain_batchnorm_behaviour():
    norm = CollectiveBatchNorm(3)
    reference = nn.BatchNorm2d(3)
    batch = torch.randn(4, 3, 5, 5)
    torch.testing.assert_close(norm(batch), reference(batch))  # no process group: the ordinary batch norm
    torch.testing.assert_close(norm.running_var, reference.running_var)


@pytest.mark.gpu
def test_all_gpus_trains_with_one_process_per_gpu(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    config = TrainConfig(dataset="phantom2d", epochs=1, batch_size=50, train_limit=100, device="cuda",
                         processes=0, sync_batchnorm=True, model_overrides={"dims": [8, 16, 32]})
    summary = Trainer(config, tmp_path / "run").run()
    assert summary["status"] == "finished" and summary["processes"] == torch.cuda.device_count()
    assert isinstance(convert_sync_batchnorm(nn.Sequential(nn.BatchNorm2d(3)), torch.device("cuda"))[0],
                      nn.SyncBatchNorm)
