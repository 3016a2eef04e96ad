"""The Trainer: trains a model on a dataset split, picks the epoch on `val`, reports on `test`.

It emits `TrainEvent`s to callbacks (start, compiling, batch, epoch, probe, finished, cancelled, failed) and
stops cleanly when `stop()` is called from any thread. The CLI drives it with a progress bar; the
app drives it from a background thread and turns the events into Qt signals. A `SampleProbe` (the
app passes `engine.probe.recorder.record_sample`) records a validation sample's dynamics every
`probe_every` steps; without one there are no probe events. The model may be compiled
(`engine.models.compiled`, the `compile` option): a "compiling" event says so before the first
step, which then takes minutes the first time.

Data parallel (`engine.learning.distributed`): every process runs this same loop on its share of each
batch. Every rank sees the same epoch order and draws the same random numbers, so a run on N processes
follows the one-process run at the same (global) `batch_size`; rank 0 alone writes the run directory
and emits progress, and validation and test predictions are gathered from all ranks before scoring.
"""
from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from spikingjelly.activation_based import functional

from engine.data.catalog import get_spec
from engine.data.domain import training_domain
from engine.data.encoders import encode
from engine.data.pipeline import Preprocessing, load_split_tensors, to_unit_float
from engine.data.spec import SPLITS
from engine.data.transforms import AugmentConfig, BatchPart, augment, augmentation_for
from engine.device import autocast_for, pick_device, precision_warning, resolve_precision
from engine.errors import UserError
from engine.learning.batchnorm import clean_sample, recompute_batchnorm
from engine.learning.calibration import calibrate_run
from engine.learning.distributed import (SINGLE, convert_sync_batchnorm, data_parallel, launched_rank, local_batchnorm,
                                         wrap_model)
from engine.learning.ema import WeightAverage
from engine.learning.evaluation import evaluate_split, metrics_from_logits, split_logits
from engine.learning.losses import LossTerms, balanced_class_weights, training_loss
from engine.learning.metrics import evaluate_scores
from engine.models import build_model, count_parameters
from engine.models.compiled import compile_model
from engine.models.energy import estimate_energy
from engine.models.loading import load_weights, start_from_run
from engine.models.outputs import scores_from_outputs
from engine.options import TrainConfig
from engine.runs.lock import RunLock
from engine.runs.rundir import RunDir
from engine.runs.selection import selection_score

log = logging.getLogger(__name__)
AVERAGE_TAG = "average"  # the checkpoint of the moving average of the weights (resume)


@dataclass
class TrainEvent:
    kind: str  # start | compiling | batch | epoch | probe | finished | cancelled | failed
    epoch: int = 0
    step: int = 0
    total_steps: int = 0
    metrics: dict = field(default_factory=dict)
    recording: object | None = None  # what the SampleProbe returned, for "probe" events
    message: str = ""


Callback = Callable[[TrainEvent], None]


class SampleProbe(Protocol):
    """Records one preprocessed sample's dynamics (`engine.probe.recorder.record_sample` is one)."""

    def __call__(self, model: torch.nn.Module, sample: torch.Tensor, timesteps: int, encoder: str,
                 device: torch.device, label_names: list[str], multi_label: bool) -> object: ...


def epoch_generator(seed: int, epoch: int, purpose: str) -> torch.Generator:
    """An independent random stream per (seed, epoch, purpose): a resumed run replays it exactly."""
    streams = {"order": 0, "augment": 1}
    return torch.Generator().manual_seed(((seed * 100_003 + epoch) * 2 + streams[purpose]) % 2**63)


def warmup_cosine(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return factor


class Trainer:
    def __init__(self, config: TrainConfig, run_dir: Path | str, callbacks: list[Callback] | None = None,
                 resume: bool = False, probe: SampleProbe | None = None) -> None:
        self.run_dir = RunDir(run_dir)
        if resume:  # the run's own settings win; only the epochs, the device, compiling and processes may change
            saved = self.run_dir.train_config()
            saved.epochs, saved.device = max(config.epochs, saved.epochs), config.device
            saved.compile, saved.processes = config.compile, config.processes
            config = saved
        config.validate()
        self.config = config
        self.callbacks = list(callbacks or [])
        self.resume = resume
        self.probe = probe
        self._stop = threading.Event()
        self.device = pick_device(config.device)
        self.dist = SINGLE  # this process among the run's processes, once `run` has started them
        self.average: WeightAverage | None = None  # the moving average of the weights (`ema_epochs`)

    @property
    def kept_model(self) -> torch.nn.Module:
        """The weights that are evaluated and saved as `best`: the moving average when there is one."""
        return self.average.model if self.average is not None else self.model

    @property
    def evaluated_model(self) -> torch.nn.Module:
        """What scores those weights: the moving average, or the model as the loop calls it (compiled)."""
        return self.average.model if self.average is not None else self.forward_model

    def stop(self) -> None:
        """Ask the training to stop after the current batch (thread-safe)."""
        self._stop.set()

    def _emit(self, event: TrainEvent) -> None:
        for callback in self.callbacks:
            callback(event)

    def run(self) -> dict:
        try:
            with self._folder_lock():  # one training per run folder
                worker_args = (self.config.to_dict(), str(self.run_dir.path), self.resume)
                with data_parallel(self.config, self.device, run_worker, worker_args) as group:
                    self.dist, self.device = group, group.device(self.device)
                    self.config = replace(self.config, processes=group.world_size)  # what ran (torchrun's count)
                    if self.dist.is_main:
                        self.run_dir.clear_status()
                    return self._run()
        except Exception as exc:
            self._emit(TrainEvent("failed", message=str(exc)))
            raise

    # -- set-up ---------------------------------------------------------------------------
    def _load_data(self) -> None:
        cfg = self.config
        self.spec = get_spec(cfg.dataset, cfg.size)
        self.prep = Preprocessing.for_dataset(self.spec, cfg.enhance)
        root = Path(cfg.data_root) if cfg.data_root else None
        with self.dist.local_main_first():  # one process per machine prepares the cached splits
            self.splits = {s: load_split_tensors(self.spec, s, self.prep, root) for s in SPLITS}
        if cfg.train_limit:
            self.splits["train"] = self.splits["train"].window(0, cfg.train_limit)

    def _run_config(self) -> dict:
        return {
            "train": self.config.to_dict(),
            "dataset": {"flag": self.spec.flag, "size": self.spec.size, "task": self.spec.task,
                        "labels": {str(k): v for k, v in self.spec.labels.items()},
                        "n_channels": self.spec.n_channels, "spatial_dims": self.spec.spatial_dims},
            "preprocessing": self.prep.to_dict(),
            "model": {"name": self.config.model, **self.model.cfg.to_dict()},
            "domain": training_domain(self.spec, self.prep.enhance, self.splits["train"].images).to_dict(),
        }

    def _restore(self, optimizer: torch.optim.Optimizer, schedule: torch.optim.lr_scheduler.LambdaLR
                 ) -> tuple[int, float]:
        """Continue from the last checkpoint: returns (first epoch to run, best val score so far).

        A run stopped before its first epoch was saved starts again from its seed: the same run."""
        if not self.run_dir.has_checkpoint("last"):
            log.info("%s has no complete epoch yet; starting it again from the beginning", self.run_dir.path)
            if self.dist.is_main:
                self.run_dir.truncate_metrics(0)
            return 0, -math.inf
        checkpoint = self.run_dir.load_checkpoint("last")
        load_weights(self.model, checkpoint.model_state, self.run_dir.path)
        optimizer.load_state_dict(checkpoint.optimizer_state)
        schedule.load_state_dict(checkpoint.info["scheduler"])
        start_epoch = checkpoint.info["epoch"] + 1
        if self.dist.is_main:
            self.run_dir.truncate_metrics(start_epoch)
        log.info("resuming %s at epoch %d", self.run_dir.path, start_epoch)
        return start_epoch, checkpoint.info.get("best_score", -math.inf)

    def _synchronise_batchnorm(self) -> None:
        """BatchNorm statistics over every process's share of the batch, when `sync_batchnorm` asks
        (before the optimizer is made: the layers are replaced)."""
        if self.dist.enabled and self.config.sync_batchnorm:
            self.model = convert_sync_batchnorm(self.model, self.device)

    def _compile_mode(self) -> str:
        """The `compile` option, except that data-parallel runs compile only when asked to (`on`)."""
        if self.dist.enabled and self.config.compile == "auto":
            return "off"
        return self.config.compile

    def _folder_lock(self):
        """The run folder's lock, held by the process that writes it (rank 0; torchrun's other ranks skip it)."""
        return RunLock(self.run_dir.path) if launched_rank() in (None, 0) else contextlib.nullcontext()

    # -- the loop -------------------------------------------------------------------------
    def _steps_per_epoch(self) -> int:
        """Batches per epoch; a last batch too small to give every process a sample is left out."""
        full, rest = divmod(len(self.splits["train"]), self.config.batch_size)
        return full + (rest >= self.dist.world_size)

    def _batches(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor, BatchPart]]:
        """This process's share of each batch, in the epoch's order (the same order on every process)."""
        train, size = self.splits["train"], self.config.batch_size
        order = torch.randperm(len(train), generator=epoch_generator(self.config.seed, epoch, "order"))
        for start in range(0, self._steps_per_epoch() * size, size):
            index = order[start:start + size]
            first, stop = self.dist.share(len(index))
            yield train.images[index[first:stop]], train.labels[index[first:stop]], BatchPart(first, stop, len(index))

    def _run(self) -> dict:
        cfg = self.config
        torch.manual_seed(cfg.seed)
        self._load_data()
        self.model = build_model(cfg, self.spec)
        if cfg.init_from and not self.resume:
            taken = start_from_run(self.model, cfg.init_from, self.spec.label_names)
            log.info("started from the weights of %s (%d tensors)", cfg.init_from, taken)
        self.model.to(self.device)
        self._synchronise_batchnorm()
        self._prepare_loss_and_average()
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        steps_per_epoch = self._steps_per_epoch()
        if steps_per_epoch == 0:
            raise UserError(f"{len(self.splits['train'])} training sample(s) cannot be shared by "
                            f"{self.dist.world_size} processes.")
        total_steps = steps_per_epoch * cfg.epochs
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, warmup_cosine(total_steps, int(cfg.warmup_epochs * steps_per_epoch)))
        if self.resume:
            start_epoch, best_score = self._restore(optimizer, schedule)
            self._restore_average()
        else:
            start_epoch, best_score = 0, -math.inf
            if self.dist.is_main:
                self.run_dir.write_config(self._run_config())
        augment_cfg = augmentation_for(self.spec.labels, cfg.augment, cfg.augment_strength)
        if warning := precision_warning(cfg.precision, self.device):
            log.warning(warning)
        self._emit(TrainEvent("start", epoch=start_epoch, total_steps=total_steps,
                              metrics={"parameters": count_parameters(self.model), "device": str(self.device),
                                       "processes": self.dist.world_size, "backend": self.dist.backend,
                                       "precision": resolve_precision(cfg.precision, self.device)}))
        self.forward_model = compile_model(
            self.model, self._compile_mode(), self.device, len(self.splits["train"]) * (cfg.epochs - start_epoch),
            lambda message: self._emit(TrainEvent("compiling", epoch=start_epoch, total_steps=total_steps,
                                                  message=message)))
        self.train_model = wrap_model(self.forward_model, self.dist, self.device)
        images_seen, train_seconds = 0, 0.0
        for epoch in range(start_epoch, cfg.epochs):
            gen = epoch_generator(cfg.seed, epoch, "augment")
            epoch_start = time.perf_counter()
            train_loss, count, seen_labels, seen_scores = 0.0, 0, [], []
            self.model.train()
            for batch_index, (images, labels, part) in enumerate(self._batches(epoch)):
                if self.dist.any(self._stop.is_set()):
                    return self._finish_cancelled(epoch, best_score)
                loss, scores = self._train_step(images, labels, part, optimizer, augment_cfg, gen)
                schedule.step()
                if self.average is not None:
                    self.average.update(self.model)
                train_loss += loss * len(labels)
                count += len(labels)
                seen_labels.append(labels.numpy())
                seen_scores.append(scores)
                step = epoch * steps_per_epoch + batch_index + 1
                self._emit(TrainEvent("batch", epoch=epoch, step=step, total_steps=total_steps,
                                      metrics={"loss": loss, "lr": schedule.get_last_lr()[0]}))
                if self.probe is not None and cfg.probe_every and step % cfg.probe_every == 0:
                    self._emit_probe(epoch, step, total_steps)
            seconds = time.perf_counter() - epoch_start
            train, count = self._train_metrics(train_loss, count, seen_labels, seen_scores)
            images_seen += count
            train_seconds += seconds
            val = self._evaluate("val")
            score = selection_score(val["acc"], val["auc"])
            improved = score > best_score
            best_score = max(best_score, score)
            row = {"epoch": epoch, **train, "seconds": seconds, "images_per_s": count / seconds,
                   **{f"val_{k}": v for k, v in val.items()}}
            info = {"epoch": epoch, "best_score": best_score, "val": val, "scheduler": schedule.state_dict()}
            self._record_epoch(row, info, improved, optimizer)
            self._emit(TrainEvent("epoch", epoch=epoch, step=(epoch + 1) * steps_per_epoch,
                                  total_steps=total_steps, metrics=row))
        return self._finish(images_seen / train_seconds if train_seconds else float("nan"))

    def _train_step(self, images: torch.Tensor, labels: torch.Tensor, part: BatchPart,
                    optimizer: torch.optim.Optimizer, augment_cfg: AugmentConfig, gen: torch.Generator
                    ) -> tuple[float, np.ndarray]:
        """One optimisation step on this process's `part` of a batch; returns the loss and the part's
        class probabilities (for train ACC/AUC)."""
        cfg = self.config
        batch = augment(to_unit_float(images), augment_cfg, gen, part).to(self.device)
        labels = labels.to(self.device)
        batch, terms = self._mixup(batch, labels, gen, part)
        with autocast_for(self.device, cfg.precision):
            outputs = self.train_model(encode(batch, cfg.timesteps, cfg.encoder, gen, part)).float()
        loss = training_loss(cfg.loss, outputs, labels, self.spec.multi_label, cfg.tet_lambda, cfg.tet_phi, terms)
        optimizer.zero_grad(set_to_none=True)
        # data parallel averages the processes' gradients: weighted so, they are the whole batch's mean
        (loss * (len(part) / part.total * self.dist.world_size)).backward()
        optimizer.step()
        functional.reset_net(self.model)
        return loss.item(), scores_from_outputs(outputs.detach(), self.spec.multi_label).cpu().numpy()

    def _train_metrics(self, loss_sum: float, count: int, labels: list[np.ndarray], scores: list[np.ndarray]
                       ) -> tuple[dict, int]:
        """Train loss, ACC and AUC of the epoch over every process's samples, and their number."""
        loss_sum, total = self.dist.sum(loss_sum, count)
        labels_all = self.dist.gather_rows(np.concatenate(labels))
        scores_all = self.dist.gather_rows(np.concatenate(scores))
        train = evaluate_scores(labels_all, scores_all, self.spec.task)
        return {"train_loss": loss_sum / max(total, 1), "train_acc": train["acc"], "train_auc": train["auc"]}, int(total)

    def _evaluate(self, split: str) -> dict:
        """The metrics of `split`, each process scoring a share; rank 0's batch-norm statistics for all."""
        self._recalibrate_batchnorm()
        self.dist.broadcast_state(self.kept_model, buffers_only=True)
        return evaluate_split(self.evaluated_model, self.splits[split], self.spec, self.config, self.device, self.dist)

    def _recalibrate_batchnorm(self) -> None:
        """The kept model's batch-norm statistics from clean training images (`recalibrate_bn`; see
        `engine.learning.batchnorm`). Every process measures the same whole batches with its layers' own
        statistics, exactly as one process would, so all processes agree without exchanging them."""
        cfg = self.config
        if not cfg.recalibrate_bn:
            return
        train, model = self.splits["train"], self.kept_model

        def forward(rows: torch.Tensor) -> None:
            with autocast_for(self.device, cfg.precision):
                model(encode(to_unit_float(train.images[rows]).to(self.device), cfg.timesteps, cfg.encoder))
            functional.reset_net(model)

        with local_batchnorm(model):
            recompute_batchnorm(model, clean_sample(len(train), cfg.seed).split(cfg.eval_batch_size), forward)

    def _record_epoch(self, row: dict, info: dict, improved: bool, optimizer: torch.optim.Optimizer) -> None:
        """The epoch's metrics row and checkpoints, committed by rank 0 alone."""
        if not self.dist.is_main:
            return
        extras = ((AVERAGE_TAG, self.average.model, {"updates": self.average.updates}),) if self.average is not None else ()
        self.run_dir.commit_epoch(row, self.model, info, optimizer, improved, self.kept_model, extras)

    def _load_best(self) -> dict:
        """The best epoch's weights in every process (rank 0 reads them); its checkpoint info."""
        info = {}
        if self.dist.is_main:
            best = self.run_dir.load_checkpoint("best")
            load_weights(self.model, best.model_state, self.run_dir.path)
            info = best.info
        self.dist.broadcast_state(self.model)
        return info

    # -- loss extras and weight averaging ------------------------------------------------
    def _prepare_loss_and_average(self) -> None:
        cfg = self.config
        weights = None
        if cfg.class_weights == "balanced":
            weights = balanced_class_weights(self.splits["train"].labels.numpy(), self.spec.num_classes,
                                             self.spec.multi_label).to(self.device)
        self.loss_terms = LossTerms(cfg.label_smoothing, weights)
        decay = 1 - 1 / max(cfg.ema_epochs * self._steps_per_epoch(), 1)
        self.average = WeightAverage(self.model, decay) if cfg.ema_epochs > 0 else None

    def _restore_average(self) -> None:
        if self.average is not None and self.run_dir.has_checkpoint(AVERAGE_TAG):
            saved = self.run_dir.load_checkpoint(AVERAGE_TAG)
            load_weights(self.average.model, saved.model_state, self.run_dir.path)
            self.average.updates = saved.info.get("updates", 0)

    def _mixup(self, batch: torch.Tensor, labels: torch.Tensor, gen: torch.Generator, part: BatchPart
               ) -> tuple[torch.Tensor, LossTerms]:
        """Blend each image with a partner from the batch (mixup); the loss weighs both labels alike."""
        alpha = self.config.mixup
        if alpha <= 0:
            return batch, self.loss_terms
        mix = float(np.random.default_rng(int(torch.randint(2**31, (1,), generator=gen))).beta(alpha, alpha))
        # partners within this process's share, drawn alike on every process (one draw for the whole batch)
        partner = torch.randperm(part.total, generator=gen)[part.start:part.stop].argsort().to(batch.device)
        terms = LossTerms(self.loss_terms.label_smoothing, self.loss_terms.class_weights, labels[partner], mix)
        return mix * batch + (1 - mix) * batch[partner], terms

    def _emit_probe(self, epoch: int, step: int, total_steps: int) -> None:
        sample = to_unit_float(self.splits["val"].images[:1])[0]
        names = self.spec.label_names
        recording = self.probe(self.model, sample, self.config.timesteps, self.config.encoder, self.device,
                               label_names=names, multi_label=self.spec.multi_label)
        self.model.train()
        self._emit(TrainEvent("probe", epoch=epoch, step=step, total_steps=total_steps, recording=recording))

    def _finish(self, images_per_s: float) -> dict:
        best = self._load_best()
        test_logits, test_loss = split_logits(self.forward_model, self.splits["test"], self.spec, self.config,
                                              self.device, self.dist)
        if not self.dist.is_main:
            return {"status": "finished", "rank": self.dist.rank}
        val = best["val"]
        test = metrics_from_logits(test_logits, test_loss, self.splits["test"], self.spec)
        calibration = calibrate_run(self.forward_model, self.splits, self.spec, self.config, self.device,
                                    self.run_dir, test_logits)
        summary = {
            "status": "finished",
            "dataset": self.spec.flag,
            "size": self.spec.size,
            "model": self.config.model,
            "parameters": count_parameters(self.model),
            "epochs": self.config.epochs,
            "best_epoch": best["epoch"],
            **{f"val_{k}": v for k, v in val.items()},
            **{f"test_{k}": v for k, v in test.items()},
            "train_images_per_s": images_per_s,
            "processes": self.dist.world_size,
            "energy": self._energy(),
            "calibration": calibration.summary(),
            "train_seconds": sum(r["seconds"] for r in self.run_dir.read_metrics()),
            "run_dir": str(self.run_dir.path),
        }
        self._emit(TrainEvent("finished", epoch=self.config.epochs - 1, metrics=summary))
        return summary

    def _energy(self) -> dict:
        """Synaptic operations and energy per inference, measured on a few validation samples."""
        images = to_unit_float(self.splits["val"].images[:16]).to(self.device)
        return estimate_energy(self.model, encode(images, self.config.timesteps, self.config.encoder)).to_dict()

    def _finish_cancelled(self, epoch: int, best_score: float) -> dict:
        summary = {"status": "cancelled", "dataset": self.spec.flag, "model": self.config.model,
                   "epoch": epoch, "best_score": best_score, "run_dir": str(self.run_dir.path)}
        if self.dist.is_main:  # the runs list says so; `resume` continues it
            self.run_dir.write_status("cancelled", epoch=epoch)
        self._emit(TrainEvent("cancelled", epoch=epoch, metrics=summary, message="Training was cancelled."))
        return summary


def run_worker(config: dict, run_dir: str, resume: bool) -> None:
    """Ranks 1..N-1 of a run started with several local processes (see `engine.learning.distributed`)."""
    Trainer(TrainConfig.from_dict(config), run_dir, resume=resume).run()
