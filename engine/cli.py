"""`spikeview-engine`: datasets, recipes, train, eval, inspect, infer, bench (and snndeep). The last stdout line is JSON.

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
from engine.errors import UserError
from engine.options import DEVICES, TrainConfig, train_options


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
        elif event.kind == "batch" and self.bar is not None:
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
        if item.type == "bool":  # on by default: the flag turns it off
            parser.add_argument("--no-" + name.replace("_", "-"), dest=name, action="store_false",
                                help=f"turn off {how.help}", **({"default": argparse.SUPPRESS} if only_given else {}))
            continue
        kinds = {"int": int, "float": float, "int | None": int}  # the rest as text (JSON for a dict)
        choices = list_models() if name == "model" else (how.choices or None)
        default = None if item.type == "dict" else item.default
        default = argparse.SUPPRESS if only_given else default
        parser.add_argument(flag, dest=name, type=kinds.get(item.type, str), choices=choices, default=default,
                            metavar="JSON" if item.type == "dict" else None, help=how.help)


def cmd_train(args: argparse.Namespace) -> dict:
    from engine.learning.trainer import Trainer
    from engine.runs.listing import new_run_path

    if args.resume and not args.out:
        raise UserError("--resume needs --out RUN_DIR, the run to continue.")
    values = {name: getattr(args, name) for name, _ in train_options() if hasattr(args, name)}
    if "model_overrides" in values:
        values["model_overrides"] = _model_overrides(values["model_overrides"])
    config = _train_config(values, args.recipe)
    if args.resume or args.exact_out:
        run_dir = Path(args.out)
    else:
        run_dir = new_run_path(args.out or "runs", config.dataset, config.size, config.model)
    trainer = Trainer(config, run_dir, callbacks=[_ProgressBar()], resume=args.resume)
    return trainer.run()


def _train_config(given: dict, recipe: str | None) -> TrainConfig:
    """The options given, over a recipe's settings when one is named (else over the defaults)."""
    from engine.recipes import apply_recipe, resolve_recipe

    if not recipe:
        return apply_recipe({}, given)
    defaults = TrainConfig()
    settings = resolve_recipe(recipe, given.get("dataset", defaults.dataset), given.get("size", defaults.size))
    return apply_recipe(settings, given)


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
    from engine.data.catalog import get_spec
    from engine.data.pipeline import load_split_tensors
    from engine.learning.evaluation import evaluate_split
    from engine.models import load_for_run

    loaded = load_for_run(args.run, tag=args.checkpoint, device=args.device)
    spec = get_spec(loaded.config.dataset, loaded.config.size)
    root = Path(args.data_root) if args.data_root else (
        Path(loaded.config.data_root) if loaded.config.data_root else None)
    data = load_split_tensors(spec, args.split, loaded.prep, root)
    start = time.perf_counter()
    metrics = evaluate_split(loaded.model, data, spec, loaded.config, loaded.device)
    return {"run": str(loaded.path), "dataset": spec.flag, "split": args.split, "samples": len(data),
            **metrics, "seconds": time.perf_counter() - start}


def cmd_infer(args: argparse.Namespace) -> dict:
    from engine.probe.inference import infer

    result = infer(args.run, args.input, record=bool(args.record), split=args.split, index=args.index,
                   geometry=args.geometry)
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

    return run_bench(args.model, args.dims, args.size, args.timesteps, args.batch_size,
                     steps=args.steps, repeats=args.repeats, device=args.device, run=args.run)


# -- parser --------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from engine.models import list_models

    parser = argparse.ArgumentParser(prog="spikeview-engine", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
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

    p = sub.add_parser("eval", help="evaluate a run's best checkpoint on a split")
    p.add_argument("--run", required=True)
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
    p.add_argument("--record", metavar="FILE.npz", help="save the spike dynamics as a Recording")
    p.add_argument("--split", default="test", choices=SPLITS, help="for a MedMNIST .npz input")
    p.add_argument("--index", type=int, default=0, help="sample number, for a MedMNIST .npz input")
    p.set_defaults(func=cmd_infer)

    p = sub.add_parser("bench", help="training/inference speed against stock SpikingJelly layers")
    p.add_argument("--model", default="sdt_tiny", choices=list_models())
    p.add_argument("--dims", type=int, default=2, choices=[2, 3])
    p.add_argument("--size", type=int, default=28)
    p.add_argument("--timesteps", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--device", default="cpu", choices=DEVICES[1:])
    p.add_argument("--run", help="benchmark this trained run's model (its architecture and input size)")
    p.set_defaults(func=cmd_bench)

    try:
        from engine.snndeep.cli import add_snndeep_parser
    except ImportError:  # the study package is optional at import time
        add_snndeep_parser = None
    if add_snndeep_parser is not None:
        add_snndeep_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
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
    print(json.dumps(_clean(result), default=_json_default))
    return 0


if __name__ == "__main__":
    sys.exit(main())
