"""`spikeview-engine`: datasets, recipes, train, tune, eval, inspect, infer, bench (and snndeep). The last stdout line is JSON.

User mistakes (a missing file, a wrong option) end with one sentence on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from dataclasses import fields
from pathlib import Path

from engine.data.spec import SPLITS
from engine.device import THREADS_ENV, configure_threads
from engine.errors import UserError
from engine.options import COMPILE_MODES, DEVICES, PRECISIONS, TrainConfig, train_options


def _json_default(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _clean(value):
    """NaN is not JSON: report it as null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


# -- datasets ------------------------------------------------------------------------------
def cmd_datasets(args: argparse.Namespace) -> dict:
    from engine.data.catalog import PHANTOM_FLAGS, available_sizes, get_spec, list_datasets
    from engine.data.medmnist import default_data_root

    root = Path(args.data_root) if args.data_root else default_data_root()
    rows = []
    for flag in list_datasets():
        spec = get_spec(flag)
        present = [s for s in available_sizes(flag)
                   if flag in PHANTOM_FLAGS or (root / get_spec(flag, s).filename).exists()]
        rows.append({"flag": flag, "task": spec.task, "classes": spec.num_classes, "channels": spec.n_channels,
                     "dims": spec.spatial_dims, "samples": spec.n_samples, "sizes_present": present})
        print(f"{flag:16s} {spec.spatial_dims}D {spec.task:28s} {spec.num_classes:2d} classes  "
              f"present: {present or '-'}", file=sys.stderr)
    return {"data_root": str(root), "datasets": rows}


# -- train ---------------------------------------------------------------------------------
class _ProgressBar:
    """A tqdm bar on stderr driven by Trainer events."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self._tqdm = tqdm
        self.bar = None

    def __call__(self, event) -> None:
        if event.kind == "start":
            self.bar = self._tqdm(total=event.total_steps, initial=event.epoch and event.step,
                                  unit="batch", file=sys.stderr, dynamic_ncols=True)
        elif event.kind == "compiling" and self.bar is not None:
            self.bar.set_description_str("compiling")
            self.bar.write(f"{event.message}…", file=sys.stderr)
        elif event.kind == "batch" and self.bar is not None:
            if self.bar.desc:
                self.bar.set_description_str("")
            self.bar.update(event.step - self.bar.n)
            self.bar.set_postfix(epoch=event.epoch, loss=f"{event.metrics['loss']:.3f}")
        elif event.kind == "epoch" and self.bar is not None:
            m = event.metrics
            self.bar.write(f"epoch {m['epoch']}: loss {m['train_loss']:.4f}  val acc {m['val_acc']:.4f}  "
                           f"auc {m['val_auc']:.4f}  ({m['images_per_s']:.0f} img/s)", file=sys.stderr)
        elif event.kind in ("finished", "cancelled", "failed") and self.bar is not None:
            self.bar.close()


def _model_overrides(text: str | None) -> dict:
    try:
        value = json.loads(text) if text else {}
    except ValueError as exc:
        raise UserError(f"--model-options is not valid JSON ({exc}).") from exc
    if not isinstance(value, dict):
        raise UserError('--model-options must be a JSON object, such as {"depth": 2}.')
    return value


def add_train_options(parser: argparse.ArgumentParser, only_given: bool = False) -> None:
    """One flag per `TrainConfig` option (engine.options): its default, choices and help. With
    `only_given`, an option left out is absent from the parsed namespace (so a recipe can fill it)."""
    from engine.models import list_models

    for item in fields(TrainConfig):
        name, how = item.name, item.metadata["option"]
        if how.flag == "-":
            continue
        flag = how.flag or "--" + name.replace("_", "-")
        if item.type == "bool":  # a flag that turns the default around
            left_out = {"default": argparse.SUPPRESS} if only_given else {}
            if item.default:
                parser.add_argument("--no-" + name.replace("_", "-"), dest=name, action="store_false",
                                    help=f"turn off {how.help}", **left_out)
            else:
                parser.add_argument(flag, dest=name, action="store_true", help=how.help, **left_out)
            continue
        kinds = {"int": int, "float": float, "int | None": int}  # the rest as text (JSON for a dict)
        choices = list_models() if name == "model" else (how.choices or None)
        default = None if item.type == "dict" else item.default
        default = argparse.SUPPRESS if only_given else default
        parser.add_argument(flag, dest=name, type=kinds.get(item.type, str), choices=choices, default=default,
                            metavar="JSON" if item.type == "dict" else None, help=how.help)


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The `TrainConfig` the training flags describe: the options given, over a recipe's settings when
    `--recipe` names one (else over the defaults)."""
    from engine.recipes import apply_recipe, resolve_recipe

    given = {name: getattr(args, name) for name, _ in train_options() if hasattr(args, name)}
    if "model_overrides" in given:
        given["model_overrides"] = _model_overrides(given["model_overrides"])
    recipe = getattr(args, "recipe", None)
    if not recipe:
        return apply_recipe({}, given)
    defaults = TrainConfig()
    settings = resolve_recipe(recipe, given.get("dataset", defaults.dataset), given.get("size", defaults.size))
    return apply_recipe(settings, given)


def cmd_train(args: argparse.Namespace) -> dict | None:
    """Train; under torchrun every process runs this, and rank 0 alone shows progress and the result."""
    from engine.learning.distributed import launched_rank
    from engine.learning.trainer import Trainer
    from engine.runs.listing import new_run_path

    if args.resume and not args.out:
        raise UserError("--resume needs --out RUN_DIR, the run to continue.")
    config = train_config(args)
    if args.resume or args.exact_out:
        run_dir = Path(args.out)
    elif launched_rank() is not None:
        raise UserError("Under torchrun every process must name the same run: add --exact-out (or --resume).")
    else:
        run_dir = new_run_path(args.out or "runs", config.dataset, config.size, config.model)
    main_process = launched_rank() in (None, 0)
    trainer = Trainer(config, run_dir, callbacks=[_ProgressBar()] if main_process else [], resume=args.resume)
    summary = trainer.run()
    return summary if main_process else None


# -- tune ----------------------------------------------------------------------------------
def cmd_tune(args: argparse.Namespace) -> dict:
    from tqdm import tqdm

    from engine.studies import default_storage
    from engine.tune import SearchSettings, default_study_name, search, train_best

    if args.trials < 1 or args.workers < 1:
        raise UserError("--trials and --workers must be at least 1.")
    base = train_config(args)
    study_dir = Path(args.study_dir)
    settings = SearchSettings(study_dir, args.storage or default_storage(study_dir),
                              args.study_name or default_study_name(base), args.trials, args.workers)
    with tqdm(total=args.trials, desc=settings.study, unit="trial", file=sys.stderr, dynamic_ncols=True) as bar:
        summary = search(base, settings, progress=lambda done, _wanted: bar.update(done - bar.n))
    if args.train_best:
        summary["best_training"] = train_best(settings.storage, settings.study, study_dir / "best",
                                              args.best_epochs, callbacks=[_ProgressBar()])
    return summary


def cmd_recipes(args: argparse.Namespace) -> dict:
    from engine.recipes import all_recommended, recommended

    recipes = [recommended(args.dataset, args.size)] if args.dataset else all_recommended()
    for recipe in recipes:
        s = recipe.settings
        print(f"{recipe.flag:16s} {recipe.size:3d}  {s['model']}  T={s['timesteps']}  {s['epochs']} epochs  "
              f"batch {s['batch_size']}  lr {s['lr']:g}  {s['loss']}", file=sys.stderr)
    return {"recipes": [{"dataset": r.flag, "size": r.size, "source": r.source, "train": r.settings}
                        for r in recipes]}


# -- eval / infer --------------------------------------------------------------------------
def cmd_eval(args: argparse.Namespace) -> dict:
    if len(args.run) > 1:
        return _eval_ensemble(args)
    from engine.data.catalog import get_spec
    from engine.data.pipeline import load_split_tensors
    from engine.learning.evaluation import evaluate_split
    from engine.models import load_for_run

    loaded = load_for_run(args.run[0], tag=args.checkpoint, device=args.device)
    spec = get_spec(loaded.config.dataset, loaded.config.size)
    root = Path(args.data_root) if args.data_root else (
        Path(loaded.config.data_root) if loaded.config.data_root else None)
    data = load_split_tensors(spec, args.split, loaded.prep, root)
    start = time.perf_counter()
    metrics = evaluate_split(loaded.model, data, spec, loaded.config, loaded.device)
    return {"run": str(loaded.path), "dataset": spec.flag, "split": args.split, "samples": len(data),
            **metrics, "seconds": time.perf_counter() - start}


def _eval_ensemble(args: argparse.Namespace) -> dict:
    """The ensemble of several runs (the mean of their calibrated probabilities), and each run's own figures."""
    from tqdm import tqdm

    from engine.learning.ensemble import check_members, score_ensemble
    from engine.models import load_for_run

    start = time.perf_counter()
    members = [load_for_run(run, tag=args.checkpoint, device=args.device) for run in args.run]
    check_members(members)
    with tqdm(total=len(members), desc=f"ensemble on {args.split}", unit="run", file=sys.stderr) as bar:
        scores = score_ensemble(members, args.split, Path(args.data_root) if args.data_root else None,
                                on_member=lambda done, total: bar.update(1))
    return {"runs": [str(run) for run in args.run], **scores.to_dict(), "seconds": time.perf_counter() - start}


def cmd_infer(args: argparse.Namespace) -> dict:
    """The JSON says whether the model can judge the input (`in_domain`, `domain_flags`) and how the input
    was made (`model_input`) before the class; each warning is also told on stderr first."""
    from engine.probe.inference import infer
    from engine.probe.model_input import check_plane_choice

    check_plane_choice(args.plane, args.slice)
    result = infer(args.run, args.input, record=bool(args.record), split=args.split, index=args.index,
                   geometry=args.geometry, plane=args.plane, slice_index=args.slice)
    for flag in result.flags:
        print(f"{flag.severity}: {flag.message}", file=sys.stderr)
    print(f"model input: {result.provenance.describe()}", file=sys.stderr)
    out = {"input": args.input, **result.to_dict()}
    if args.record:
        out["recording"] = str(result.recording.save(args.record))
        out["firing_rates"] = result.recording.firing_rates()
    return out


def cmd_inspect(args: argparse.Namespace) -> dict:
    """What a scan is, as the app's inspector shows it by default: never its identifiers."""
    from engine.io import list_series, load, load_label

    path = Path(args.input)
    series_uid = None
    if path.is_dir():
        series = list_series(path)
        if args.series is None and len(series) > 1:
            return {"input": args.input, "series": [{"number": n + 1, "modality": s.modality, "images": s.count}
                                                    for n, s in enumerate(series)]}
        if args.series is not None and not 1 <= args.series <= len(series):
            raise UserError(f"--series must be between 1 and {len(series)}, the series in {path.name}.")
        series_uid = series[(args.series or 1) - 1].uid
    volume = load(path, series_uid=series_uid, geometry=args.geometry)
    out = {"input": args.input, **_volume_summary(volume)}
    if args.label:
        label = load_label(args.label, volume)
        out["label"] = {"labels": label.label_names, "resampled": label.metadata.get("Resampled", "no"),
                        "warnings": label.warnings}
    return out


def _volume_summary(volume) -> dict:
    return {"name": volume.name, "modality": volume.modality, "shape": list(volume.spatial_shape),
            "spacing_mm": [round(s, 6) for s in volume.spacing], "data_type": str(volume.array.dtype),
            "intensity_range": list(volume.intensity_range()),
            "geometry_issues": [issue.kind for issue in volume.geometry_issues], "warnings": volume.warnings,
            "metadata": volume.metadata}


def cmd_bench(args: argparse.Namespace) -> dict:
    from engine.bench import run_bench

    return run_bench(args.model, tuple(args.dims), args.size, args.timesteps, args.batch_size, steps=args.steps,
                     repeats=args.repeats, device=args.device, compile_mode=args.compile, run=args.run,
                     precisions=tuple(dict.fromkeys(args.precision)))


# -- parser --------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from engine.models import list_models

    parser = argparse.ArgumentParser(prog="spikeview-engine", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument("--threads", type=int, help=f"CPU threads for torch (default: ${THREADS_ENV}, else the "
                                                    "usable cores minus one)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("datasets", help="list every dataset and which files are present")
    p.add_argument("--data-root")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("recipes", help="the recommended training settings of every MedMNIST flag and size")
    p.add_argument("--dataset", help="one flag only")
    p.add_argument("--size", type=int, default=28)
    p.set_defaults(func=cmd_recipes)

    p = sub.add_parser("train", help="train a model on a dataset (val picks the epoch, test reports)")
    add_train_options(p, only_given=True)
    p.add_argument("--recipe", nargs="?", const="recommended", metavar="FILE",
                   help="start from a recipe: with no value the recommended settings of --dataset and --size "
                        "(`spikeview-engine recipes`), or a JSON file of training options; the options "
                        "given on the command line win")
    p.add_argument("--out", help="parent folder of new runs (default ./runs), or the run to --resume")
    p.add_argument("--exact-out", action="store_true", help="use --out itself as the run directory")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("tune", help="Optuna search over learning rate, timesteps, tau, width and augmentation "
                                    "strength, pruned on val (the train flags give the rest; --epochs per trial)")
    add_train_options(p)
    p.add_argument("--trials", type=int, default=10, help="finished trials the study should hold (it resumes)")
    p.add_argument("--workers", type=int, default=1, help="search processes on this machine")
    p.add_argument("--study-dir", default="runs/tune", help="folder of the trials' runs (and of the SQLite file)")
    p.add_argument("--storage", default="", help="SQLAlchemy URL shared by every worker, e.g. "
                                                 "postgresql://user@host/db; default: SQLite in --study-dir")
    p.add_argument("--study-name", default="", help="default: sdt-<dataset>_<size>-<model>")
    p.add_argument("--train-best", action="store_true", help="then train the best trial's settings as a run "
                                                             "in <study dir>/best")
    p.add_argument("--best-epochs", type=int, help="epochs of that run (default: those of the trials)")
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser("eval", help="evaluate a run's best checkpoint on a split; with several runs, their "
                                    "ensemble (the mean of their calibrated probabilities) and each run")
    p.add_argument("--run", required=True, nargs="+", metavar="RUN")
    p.add_argument("--split", default="test", choices=SPLITS)
    p.add_argument("--checkpoint", default="best", choices=["best", "last"])
    p.add_argument("--data-root")
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.set_defaults(func=cmd_eval)

    geometry = dict(choices=["as_is", "resample"], default="as_is",
                    help="a scan with missing, uneven, tilted or sheared slices: open it as stored (with a "
                         "warning) or resampled onto an even, straight grid")
    p = sub.add_parser("inspect", help="what a scan is: size, spacing, geometry warnings, metadata (no identifiers)")
    p.add_argument("input", help="NIfTI, DICOM, NRRD, PNG/JPEG or .npy file, or a DICOM folder")
    p.add_argument("--series", type=int, help="which series of a DICOM folder holding several (1 = the largest)")
    p.add_argument("--geometry", **geometry)
    p.add_argument("--label", help="a label/mask file to put on the scan's grid")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("infer", help="classify a scan, image or array file with a trained run")
    p.add_argument("--run", required=True)
    p.add_argument("input", help="NIfTI, DICOM, NRRD, PNG/JPEG or .npy file, DICOM folder, or a MedMNIST .npz")
    p.add_argument("--geometry", **geometry)
    p.add_argument("--plane", choices=["axial", "coronal", "sagittal"],
                   help="for a 2D model on a 3D scan: the plane to cut the slice in (default: the dataset's, flagged)")
    p.add_argument("--slice", type=int, help="with --plane: the slice number (default: the middle one)")
    p.add_argument("--record", metavar="FILE.npz", help="save the spike dynamics as a Recording")
    p.add_argument("--split", default="test", choices=SPLITS, help="for a MedMNIST .npz input")
    p.add_argument("--index", type=int, default=0, help="sample number, for a MedMNIST .npz input")
    p.set_defaults(func=cmd_infer)

    p = sub.add_parser("bench", help="training/inference images/s: ours (eager, compiled), stock SpikingJelly "
                                     "layers, SpikingJelly's own spike-driven transformer; 2D and 3D")
    p.add_argument("--model", default="sdt_small", choices=list_models())
    p.add_argument("--dims", type=int, nargs="+", default=[2, 3], choices=[2, 3])
    p.add_argument("--size", type=int, default=28)
    p.add_argument("--timesteps", type=int, default=4)
    p.add_argument("--batch-size", type=int, help="default 64 in 2D, 16 in 3D")
    p.add_argument("--steps", type=int, default=5, help="timed training steps per contender")
    p.add_argument("--repeats", type=int, default=5, help="timed inference batches per contender")
    p.add_argument("--device", default="cpu", choices=DEVICES[1:])
    p.add_argument("--compile", default="on", choices=COMPILE_MODES, help="measure the compiled model too (on)")
    p.add_argument("--precision", nargs="+", default=["auto"], choices=PRECISIONS,
                   help="number formats to measure every contender in (auto: bf16 on a GPU, fp32 on a CPU)")
    p.add_argument("--run", help="benchmark this trained run's model (its architecture and input size)")
    p.set_defaults(func=cmd_bench)

    try:
        from engine.snndeep.cli import add_snndeep_parser
    except ImportError:  # the study package is optional at import time
        add_snndeep_parser = None
    if add_snndeep_parser is not None:
        add_snndeep_parser(sub)
    return parser


def _early_threads(argv: list[str] | None) -> int | None:
    """--threads, read before the parser is built: OpenMP's settings must precede importing torch."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--threads", type=int)
    return early.parse_known_args(argv)[0].threads


def main(argv: list[str] | None = None) -> int:
    try:
        configure_threads(_early_threads(argv))
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        result = args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted.", file=sys.stderr)
        return 130
    if result is not None:  # None: a data-parallel process other than rank 0, which prints nothing
        print(json.dumps(_clean(result), default=_json_default))
    return 0


if __name__ == "__main__":
    sys.exit(main())
