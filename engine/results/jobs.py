"""Which runs make the results, and running them.

A `Job` is one training: the recommended recipe of a flag and size, a seed, and the options an
ablation changes. Its run folder holds `job.json` (the full recipe it trains with, so the run can be
repeated by hand with `spikeview-engine train --recipe job.json`), the run itself and `train.log`.
A finished job leaves a record, `<records>/<job name>.json`: the Trainer's summary, the settings it
trained with, its per-epoch validation, the device and the wall time. The records are small and kept
with the page they make (`docs/results/runs`), so the page can be rewritten, and seeds added, on
another machine without the runs. A job with a record is never run again; an interrupted one resumes
from its last checkpoint. A job that starts from another run's weights (`START_FROM`) has that run
trained first, again where only its record is here (its record is then replaced).
"""
from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from engine.data.catalog import get_spec
from engine.data.medmnist import list_dataset_files
from engine.recipes import overlay, recommended
from engine.runs.atomic import write_atomic
from engine.runs.rundir import RunDir

log = logging.getLogger(__name__)

JOB_FILE, LOG_FILE = "job.json", "train.log"
QUICK = {"epochs": 1, "train_limit": 64}  # --quick: every job, in a few seconds
ABLATION_SETS = ("breastmnist", "pneumoniamnist", "adrenalmnist3d")
EPOCHS_FACTOR = "epochs_factor"  # a job option, not a training setting: the epochs it would train, times this
START_FROM = "start_from"  # a job option: the flag whose run of the same size and seed starts the training
# (in a job, {"flag": ..., "options": the table's or the ablations'}, and "run": "base" for its ablations' base
# run rather than its table run; see `Job.source`)
START_RUN = "start_run"  # a job option beside START_FROM: "base" for that set's ablations' base run

# variant → (what it is, the options it changes in the recipe); the first is the recipe itself
ABLATIONS: dict[str, tuple[str, dict]] = {
    "recipe": ("the recipe", {}),
    "ce": ("CE on the mean output instead of TET", {"loss": "ce"}),
    "t1": ("T = 1", {"timesteps": 1}),
    "t2": ("T = 2", {"timesteps": 2}),
    "t4": ("T = 4", {"timesteps": 4}),
    "t8": ("T = 8", {"timesteps": 8}),
    "no-augment": ("no augmentation", {"augment": False}),
    "augment-half": ("weaker augmentation: every random range half the recipe's (rotation, zoom, shift, "
                     "brightness, contrast)", {"augment_strength": 0.5}),
    "augment-x2": ("stronger augmentation: every random range twice the recipe's", {"augment_strength": 2.0}),
    "equalize": ("histogram equalisation", {"enhance": "equalize"}),
    "clahe": ("CLAHE", {"enhance": "clahe"}),
    "spike-shortcut": ("spike shortcut (SEW-style) instead of membrane", {"model_overrides": {"shortcut": "spike"}}),
    "sdt-small": ("sdt_small (twice the width, two attention blocks of four heads) instead of sdt_tiny",
                  {"model": "sdt_small"}),
    "bf16": ("bfloat16 forward pass (autocast) instead of float32", {"precision": "bf16"}),
    "augmented-bn": ("batch-norm statistics of the augmented training batches (not recomputed on clean images)",
                     {"recalibrate_bn": False}),
    "strided-stem": ("2D: first stage at 14 pixels (stem stride 2, no stride before attention; the earlier recipe)",
                     {"model_overrides": {"stem_stride": None, "attention_stride": 1}}),
    "attention-14": ("2D: attention on 14 x 14 tokens (no stride before attention; the recipe's grid is 7 x 7)",
                     {"model_overrides": {"attention_stride": 1}}),
    "half-stride-stem": ("3D: first stage at 14 voxels a side (stem stride 2, stride 2 before attention)",
                         {"model_overrides": {"stem_stride": 2, "attention_stride": 2}}),
    "tta-shift": ("test-time views: each of the recipe's also moved one pixel either way along every axis (5x the "
                  "forward passes per image in 2D, 7x in 3D; the energy column counts one)", {"tta": "flip-shift"}),
    "ema": ("a moving average of the weights over 3 epochs, evaluated in their place", {"ema_epochs": 3.0}),
    "mixup": ("mixup, Beta(0.2, 0.2)", {"mixup": 0.2}),
    "label-smoothing": ("label smoothing 0.1", {"label_smoothing": 0.1}),
    "balanced": ("class weights: the inverse of each class's training frequency", {"class_weights": "balanced"}),
    "lr-0.0025": ("peak learning rate 0.0025 (half the recipe's)", {"lr": 0.0025}),
    "lr-0.01": ("peak learning rate 0.01 (twice the recipe's)", {"lr": 0.01}),
    "wd-0": ("no weight decay (the recipe's AdamW decay is 0.01)", {"weight_decay": 0.0}),
    "wd-0.1": ("weight decay 0.1 (ten times the recipe's)", {"weight_decay": 0.1}),
    "batch-32": ("2D: batch 32 (half the recipe's 64, the same learning rate)", {"batch_size": 32}),
    "batch-128": ("2D: batch 128 (twice the recipe's 64, the same learning rate)", {"batch_size": 128}),
    "epochs-x2": ("twice the epochs, the same schedule stretched", {EPOCHS_FACTOR: 2}),
    "epochs-x4": ("four times the epochs, the same schedule stretched", {EPOCHS_FACTOR: 4}),
    "epochs-x8": ("eight times the epochs, the same schedule stretched", {EPOCHS_FACTOR: 8}),
    "epochs-x16": ("sixteen times the epochs, the same schedule stretched", {EPOCHS_FACTOR: 16}),
    "sdt-small-epochs-x2": ("sdt_small and twice the epochs (the sdt-small and twice-the-epochs rows together)",
                            {"model": "sdt_small", EPOCHS_FACTOR: 2}),
    "organamnist-start": ("started from OrganAMNIST's table run of the same seed (fine-tuning: every layer but "
                          "the classifier)", {START_FROM: "organamnist"}),
    "organamnist-start-epochs-x4": ("started from OrganAMNIST's table run and four times the epochs (the "
                                    "organamnist-start and epochs-x4 rows together)",
                                    {START_FROM: "organamnist", EPOCHS_FACTOR: 4}),
    "pneumoniamnist-start": ("started from PneumoniaMNIST's ablations' base run of the same seed (chest X-rays, "
                             "its rule's 32 epochs; fine-tuning: every layer but the classifier)",
                             {START_FROM: "pneumoniamnist", START_RUN: "base"}),
}
# Variants trained on sets of one dimensionality only (each stem variant is the other family's alternative;
# the 3D recipe already attends without a stride before attention; the batch sizes are multiples of the 2D recipe's)
ONLY_FOR_DIMS = {"strided-stem": 2, "attention-14": 2, "half-stride-stem": 3, "batch-32": 2, "batch-128": 2}
# What every ablation of a dimensionality starts from, laid over the recipe ({}: the recipe itself), the
# family's recipe before its last change, so the one-change rows measured on it stay comparable and the row
# that makes that change is the recipe. 3D: sdt_tiny, the model before sdt_small (the sdt-small row); 2D:
# a quarter of the epochs, the rule's schedule before it was stretched (the epochs-x4 row is the recipe, the
# epochs-x2 row its earlier stretch).
ABLATION_BASE: dict[int, dict] = {2: {EPOCHS_FACTOR: 0.25}, 3: {"model": "sdt_tiny"}}


@dataclass(frozen=True)
class Job:
    kind: str  # table | ablation
    flag: str
    size: int
    seed: int = 0
    variant: str = "recipe"
    options: dict = field(default_factory=dict)  # laid over the recipe

    @property
    def name(self) -> str:
        """The run folder's name (with the epochs when a job changes the recipe's, so no run is reused
        for another schedule)."""
        return f"{self.flag}_{self.size}/{self.kind}-{self.variant}{self.epochs_tag}-seed{self.seed}"

    @property
    def epochs_tag(self) -> str:
        return f"-e{self.options['epochs']}" if "epochs" in self.options else ""

    def settings(self) -> dict:
        """The full training settings: the recipe, then the job's own options and its seed (less the run it
        starts from, which the `Runner` places: see `source`)."""
        settings = {**overlay(recommended(self.flag, self.size).settings, self.options), "seed": self.seed}
        factor = settings.pop(EPOCHS_FACTOR, 1)
        settings.pop(START_FROM, None)
        settings.pop(START_RUN, None)
        return {**settings, "epochs": max(1, round(settings["epochs"] * factor))}

    @property
    def source(self) -> Job | None:
        """The run whose weights start this one (`START_FROM`): that set's table run, or its ablations' base
        run; None when it starts from fresh weights."""
        start = self.options.get(START_FROM)
        if start is None:
            return None
        if start.get("run") == "base":
            options = laid_over(ablation_base(start["flag"]), {}, start["options"])
            return Job("ablation", start["flag"], self.size, self.seed, "recipe", options)
        return Job("table", start["flag"], self.size, self.seed, options=start["options"])

    def base(self) -> dict:
        """The settings the ablations of this set start from: the recipe with its family's `ABLATION_BASE`."""
        return overlay(recommended(self.flag, self.size).settings, ablation_base(self.flag))

    def changes_base(self) -> bool:
        base = self.base()
        return overlay(base, ABLATIONS[self.variant][1]) != base

    def applies(self) -> bool:
        dims = ONLY_FOR_DIMS.get(self.variant)
        source = self.source
        if source is not None and (source.flag == self.flag
                                   or get_spec(source.flag, 28).spatial_dims != get_spec(self.flag, 28).spatial_dims):
            return False
        return dims is None or get_spec(self.flag, self.size).spatial_dims == dims

    @property
    def priority(self) -> tuple[int, int]:
        """Training order: every set's seed 0 first, then the ablations, then further seeds, the
        smallest training splits first (so a partial run gives the cheapest sets all their seeds)."""
        if self.seed > 0:
            return 2, get_spec(self.flag, self.size).n_samples.get("train", 0)
        return int(self.kind == "ablation"), 0


def table_jobs(files: list[tuple[str, int]], seeds: int, extra: dict | None = None) -> list[Job]:
    return [Job("table", flag, size, seed, options=dict(extra or {})) for flag, size in files
            for seed in range(seeds)]


@dataclass(frozen=True)
class Ensemble:
    """The runs of one set and variant (seeds 0 .. n - 1: the table's, or an ablation variant's) taken
    together: the mean of their calibrated probabilities (engine/learning/ensemble.py), scored by
    `spikeview-engine eval --run ...`."""

    members: tuple[Job, ...]

    @property
    def name(self) -> str:
        first = self.members[0]
        return f"{first.flag}_{first.size}/ensemble-{first.variant}{first.epochs_tag}-{len(self.members)}-seeds"


def ensembles(files: list[tuple[str, int]], seeds: int, extra: dict | None = None) -> list[Ensemble]:
    """One ensemble of the table's `seeds` runs per file (none under two seeds)."""
    if seeds < 2:
        return []
    return [Ensemble(tuple(Job("table", flag, size, seed, options=dict(extra or {})) for seed in range(seeds)))
            for flag, size in files]


def variant_ensembles(jobs: list[Job]) -> list[Ensemble]:
    """One ensemble of each ablation variant's seeds among `jobs` (none under two seeds, none of the base:
    its ensemble would take the name of the table's, which `ensembles` makes)."""
    groups: dict[tuple, list[Job]] = defaultdict(list)
    for job in jobs:
        if job.kind == "ablation" and job.variant != "recipe":
            groups[(job.flag, job.size, job.variant, job.epochs_tag)].append(job)
    return [Ensemble(tuple(sorted(group, key=lambda job: job.seed))) for group in groups.values() if len(group) > 1]


def ablation_jobs(files: list[tuple[str, int]], sets: tuple[str, ...], extra: dict | None = None,
                  variants: tuple[str, ...] = tuple(ABLATIONS), table_extra: dict | None = None,
                  seeds: int = 1) -> list[Job]:
    """The `variants` on the 28-pixel file of each ablation set that is present, seeds 0 .. `seeds` - 1,
    each laid over its family's base (`ABLATION_BASE`), less those that change nothing in the base (T = 2
    where the base has T = 2, and those that start from a set whose file is not among `files`). When the
    base is the recipe and the ablations' `extra` options are the table's (`table_extra`), the base's rows
    are the table's runs of those seeds."""
    present = {flag for flag, size in files if size == 28}
    extra, table_extra = extra or {}, table_extra or {}
    jobs = [_ablation_job(flag, variant, seed, extra, table_extra)
            for flag in sets if flag in present for variant in variants for seed in range(seeds)]
    return [job for job in jobs if job.variant == "recipe" or (
        job.changes_base() and job.applies() and (job.source is None or job.source.flag in present))]


def ablation_base(flag: str) -> dict:
    return ABLATION_BASE[get_spec(flag, 28).spatial_dims]


def _ablation_job(flag: str, variant: str, seed: int, extra: dict, table_extra: dict) -> Job:
    """One ablation run; the base's row is the table's run where the base is the recipe, epochs and all."""
    table = Job("table", flag, 28, seed, options=dict(extra))
    base = ablation_base(flag)
    options = laid_over(base, ABLATIONS[variant][1], extra)
    if START_FROM in options:  # the run it starts from: that set's table run with the table's options, or
        # its ablations' base run with the ablations' (START_RUN "base")
        from_base = options.pop(START_RUN, None) == "base"
        options[START_FROM] = {"flag": options[START_FROM], "options": dict(extra if from_base else table_extra),
                               **({"run": "base"} if from_base else {})}
    job = Job("ablation", flag, 28, seed, variant, options)
    if variant == "recipe" and extra == table_extra and job.settings() == table.settings():
        return table
    return job


def laid_over(base: dict, change: dict, extra: dict) -> dict:
    """An ablation job's options: the variant's change over its base, then `extra`; epoch factors
    multiply (twice the epochs of a base with half the recipe's are the recipe's), and epochs given in
    `extra` are the base's."""
    options = {**base, **change, **extra}
    factor = (1 if "epochs" in extra else base.get(EPOCHS_FACTOR, 1)) * change.get(EPOCHS_FACTOR, 1)
    options.pop(EPOCHS_FACTOR, None)
    return options if factor == 1 else {**options, EPOCHS_FACTOR: factor}


def files_found(data_root: Path, only: list[str] | None = None, sizes: list[int] | None = None
                ) -> list[tuple[str, int]]:
    """(flag, size) of every MedMNIST file under `data_root` (or of those named in `only`, in `sizes`)."""
    found = [(f.spec.flag, f.spec.size) for f in list_dataset_files(data_root)]
    return [(flag, size) for flag, size in found if (not only or flag in only) and (not sizes or size in sizes)]


def device_description(device: str, threads: int) -> str:
    import torch

    if device != "cpu" and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    cpu = platform.processor() or platform.machine()
    return f"CPU {cpu}, {threads} thread{'s' if threads > 1 else ''} (of {os.cpu_count()} cores)"


@dataclass
class Runner:
    """Runs jobs in child processes, `parallel` at a time, each with `threads` threads at `niceness`;
    runs go under `runs_root`, records under `records_root`."""

    runs_root: Path
    records_root: Path
    data_root: Path
    device: str = "cpu"
    parallel: int = 1
    threads: int = 1
    niceness: int = 0

    def run_dir(self, job: Job) -> Path:
        return self.runs_root / job.name

    def record_path(self, job: Job | Ensemble) -> Path:
        return self.records_root / f"{job.name}.json"

    def finished(self, job: Job | Ensemble) -> bool:
        return self.record_path(job).is_file()

    def has_weights(self, job: Job) -> bool:
        """The run folder holds the recorded run's weights: a best checkpoint, and the same validation per
        epoch as the record (not a later training of the job, stopped part-way, nor another machine's run)."""
        run = RunDir(self.run_dir(job))
        if not run.has_checkpoint("best"):
            return False
        return json.loads(self.record_path(job).read_text()).get("history") == _val_history(run)

    def pending(self, job: Job, need_weights: bool = False) -> bool:
        """Not finished, or (`need_weights`) finished elsewhere: a record without the run's weights."""
        return not self.finished(job) or (need_weights and not self.has_weights(job))

    def run_all(self, jobs: list[Job], on_done: Callable[[Job, bool], None] | None = None,
                need_weights: bool = False) -> list[Job]:
        """Run the jobs not yet finished (and, with `need_weights`, those whose weights are not here: they
        are trained again and their records replaced); returns those that failed. The runs they start from
        go first, trained (again) where their weights are not here."""
        todo = [job for job in jobs if self.pending(job, need_weights)]
        sources = self.sources_to_train(todo)
        failed = []
        first = sources + [job for job in todo if job.source is None and job not in sources]
        for wave in first, [job for job in todo if job.source is not None]:
            with ThreadPoolExecutor(max_workers=max(1, self.parallel)) as pool:
                runs = pool.map(lambda job: self.run_one(job, need_weights or job in sources), wave)
                for job, ok in zip(wave, runs):
                    if not ok:
                        failed.append(job)
                    if on_done is not None:
                        on_done(job, ok)
        return failed

    def sources_to_train(self, jobs: list[Job]) -> list[Job]:
        """The runs that `jobs` start from whose weights are not here, once each."""
        sources = {job.source.name: job.source for job in jobs if job.source is not None}
        return [job for job in sources.values() if self.pending(job, need_weights=True)]

    def job_settings(self, job: Job) -> dict:
        """What `job` trains with (its job.json): its settings, with the folder of the run it starts from."""
        if job.source is None:
            return job.settings()
        return {**job.settings(), "init_from": str(self.run_dir(job.source).resolve())}

    def command(self, job: Job) -> list[str]:
        folder = self.run_dir(job)
        command = [sys.executable, "-m", "engine.cli", "train", "--data-root", str(self.data_root),
                   "--device", self.device, "--out", str(folder), "--exact-out"]
        if RunDir(folder).has_checkpoint("last"):
            return command + ["--resume", "--epochs", str(job.settings()["epochs"])]
        return command + ["--recipe", str(folder / JOB_FILE)]

    def run_one(self, job: Job, need_weights: bool = False) -> bool:
        if not self.pending(job, need_weights):  # finished meanwhile, by another call of the script
            return True
        if job.source is not None and self.pending(job.source, need_weights=True):
            log.warning("%s needs the weights of %s, not trained here: train that run first (the table of %s)",
                        job.name, job.source.name, job.source.flag)
            return False
        folder = self.run_dir(job)
        if not RunDir(folder).has_checkpoint("last"):
            shutil.rmtree(folder, ignore_errors=True)  # a run that never finished an epoch starts again
            folder.mkdir(parents=True)
            (folder / JOB_FILE).write_text(json.dumps(self.job_settings(job), indent=2))
        start = time.perf_counter()
        summary = self._engine(self.command(job), folder / LOG_FILE, job.name)
        if summary is None:
            return False
        record = {**summary, **run_contents(folder),
                  "job": {"kind": job.kind, "flag": job.flag, "size": job.size, "seed": job.seed,
                          "variant": job.variant, "options": job.options},
                  "device": device_description(self.device, self.threads),
                  "wall_seconds": time.perf_counter() - start}
        self.record_path(job).parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.record_path(job), json.dumps(record, indent=1) + "\n")
        return True


    def _engine(self, command: list[str], log_path: Path, what: str) -> dict | None:
        """Run a `spikeview-engine` command in a child process (stderr to `log_path`); its JSON answer, or
        None when it failed."""
        env = {**os.environ, "OMP_NUM_THREADS": str(self.threads), "MKL_NUM_THREADS": str(self.threads)}
        niceness = self.niceness
        with open(log_path, "a") as log_file:
            done = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=log_file, text=True,
                                  preexec_fn=(lambda: os.nice(niceness)) if niceness else None)
        if done.returncode != 0:
            log.warning("%s failed (exit %d); see %s", what, done.returncode, log_path)
            return None
        return json.loads(done.stdout.strip().splitlines()[-1])

    def score(self, ensemble: Ensemble) -> bool:
        """Score an ensemble whose members are trained here, on val and test, and leave its record."""
        if self.finished(ensemble):
            return True
        missing = [job.name for job in ensemble.members if self.pending(job, need_weights=True)]
        if missing:
            log.warning("%s not scored: %s not trained here", ensemble.name, ", ".join(missing))
            return False
        start = time.perf_counter()
        log_path = self.runs_root / f"{ensemble.name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        runs = [str(self.run_dir(job)) for job in ensemble.members]
        scores = {}
        for split in ("val", "test"):
            command = [sys.executable, "-m", "engine.cli", "eval", "--run", *runs, "--split", split,
                       "--data-root", str(self.data_root), "--device", self.device]
            scores[split] = self._engine(command, log_path, f"{ensemble.name} on {split}")
            if scores[split] is None:
                return False
        members = [json.loads(self.record_path(job).read_text()) for job in ensemble.members]
        record = {**ensemble_record(ensemble, scores, members), "device": device_description(self.device, self.threads),
                  "wall_seconds": time.perf_counter() - start}
        self.record_path(ensemble).parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.record_path(ensemble), json.dumps(record, indent=1) + "\n")
        return True


def ensemble_record(ensemble: Ensemble, scores: dict[str, dict], members: list[dict]) -> dict:
    """What the page needs of an ensemble: its figures on val and test (`scores`, the answers of
    `spikeview-engine eval`), each member's test figures, and the energy (the members' sum, from their
    `members` records)."""
    first = ensemble.members[0]
    figures = {f"{split}_{key}": answer.get(key) for split, answer in scores.items()
               for key in ("acc", "auc", "loss", "ece")}
    return {"job": {"kind": "ensemble", "flag": first.flag, "size": first.size, "variant": first.variant,
                    "seeds": [job.seed for job in ensemble.members], "options": first.options},
            "members": [job.name for job in ensemble.members], **figures,
            "member_test": [{key: member.get(key) for key in ("acc", "auc")} for member in scores["test"]["members"]],
            "energy_uj": sum(member["energy"]["energy_uj"] for member in members),
            "settings": members[0]["settings"]}


def run_contents(folder: Path) -> dict:
    """What the page needs from a run besides its summary: the settings and the validation per epoch."""
    run = RunDir(folder)
    return {"settings": run.read_config()["train"], "history": _val_history(run)}


def _val_history(run: RunDir) -> list[dict]:
    return [{"epoch": row["epoch"], "val_acc": row["val_acc"], "val_auc": row.get("val_auc")}
            for row in run.read_metrics()]


def read_results(records_root: Path) -> list[dict]:
    """The records of every finished job under `records_root`."""
    return [json.loads(path.read_text()) for path in sorted(Path(records_root).glob("*/*.json"))]
