"""`spikeview-engine snndeep ...`: make-demo, tune, run, report, bench. Each returns a JSON-able dict."""
from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from pathlib import Path

from engine.errors import UserError
from engine.snndeep.config import IMPLEMENTATIONS, RULES, DataConfig, RuleConfig, SampleConfig

log = logging.getLogger(__name__)


def add_snndeep_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("snndeep", help="SNNDeep liver CT study: 3 learning rules x 3 SNN implementations")
    commands = parser.add_subparsers(dest="snndeep_command", required=True)

    demo = commands.add_parser("make-demo", help="build an MSD-format liver task from real CT volumes + synthetic labels")
    demo.add_argument("--volumes", type=Path, required=True, help="folder with CT_pitch.nii.gz and CT_AVM.nii.gz")
    demo.add_argument("--out", type=Path, required=True)
    demo.add_argument("--patients-per-volume", type=int, default=6)
    demo.set_defaults(func=cmd_make_demo)

    tune = commands.add_parser("tune", help="Optuna studies for each implementation x rule")
    _data_args(tune)
    _study_args(tune)
    tune.add_argument("--trials", type=int, default=8, help="finished trials each study should hold")
    tune.add_argument("--epochs", type=int, default=3, help="epochs (or active-learning rounds) per trial")
    tune.set_defaults(func=cmd_tune)

    run = commands.add_parser("run", help="cross-validated runs with the tuned (or default) hyperparameters")
    _data_args(run)
    _study_args(run)
    run.add_argument("--epochs", type=int, default=6)
    run.set_defaults(func=cmd_run)

    report = commands.add_parser("report", help="the whole study on the data here, then the Markdown report")
    report.add_argument("--out", type=Path, default=Path("docs/snndeep"), help="report folder")
    report.add_argument("--study-dir", type=Path, default=Path("runs/snndeep"))
    report.add_argument("--volumes", type=Path, help="real CT volumes for the demo MSD task")
    report.add_argument("--msd-dir", type=Path, help="a real MSD liver task folder (replaces the demo task)")
    report.add_argument("--medmnist-root", type=Path, help="folder holding organamnist.npz")
    report.add_argument("--storage", default="", help="SQLAlchemy URL; default sqlite in the study folder")
    report.add_argument("--trials", type=int, default=6)
    report.add_argument("--workers", type=int, default=1)
    report.add_argument("--folds", type=int, default=3)
    report.add_argument("--max-train", type=int, default=2000)
    report.add_argument("--max-test", type=int, default=1500)
    report.add_argument("--epochs", type=int, default=6)
    report.add_argument("--no-bench", action="store_true")
    report.add_argument("--from-results", action="store_true", help="only re-render the report from the study folder")
    report.set_defaults(func=cmd_report)

    bench = commands.add_parser("bench", help="BPTT seconds per epoch: custom vs snnTorch vs SpikingJelly")
    bench.add_argument("--samples", type=int, default=2048)
    bench.add_argument("--hidden", type=int, default=256)
    bench.add_argument("--timesteps", type=int, default=16)
    bench.add_argument("--epochs", type=int, default=3)
    bench.add_argument("--medmnist-root", type=Path)
    bench.set_defaults(func=cmd_bench)
    return parser


def _data_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", choices=("msd", "organamnist"), default="msd")
    parser.add_argument("--msd-dir", type=Path, help="MSD liver task folder (dataset.json, imagesTr, labelsTr)")
    parser.add_argument("--medmnist-root", type=Path, help="folder holding organamnist.npz")
    parser.add_argument("--mode", choices=("image", "features"), default="image")
    parser.add_argument("--size", type=int, default=28)
    parser.add_argument("--slab", type=int, default=0, help="2.5D: neighbouring slices on each side")
    parser.add_argument("--min-tumour-voxels", type=int, default=20)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--protocol", choices=("patient", "slice"), default="patient")
    parser.add_argument("--max-train", type=int, default=2000)
    parser.add_argument("--max-test", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)


def _study_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--study-dir", type=Path, default=Path("runs/snndeep"))
    parser.add_argument("--storage", default="", help="SQLAlchemy URL (e.g. postgresql://...); default sqlite in --study-dir")
    parser.add_argument("--workers", type=int, default=1, help="parallel worker processes on this machine")
    parser.add_argument("--impl", choices=(*IMPLEMENTATIONS, "all"), default="all")
    parser.add_argument("--rule", choices=(*RULES, "all"), default="all")


def _data_config(args: argparse.Namespace) -> DataConfig:
    if args.task == "msd" and not args.msd_dir:
        raise UserError("The msd task needs --msd-dir (an MSD liver folder; `snndeep make-demo` builds one).")
    samples = SampleConfig(mode=args.mode, size=args.size, slab=args.slab, min_tumour_voxels=args.min_tumour_voxels)
    return DataConfig(args.task, str(args.msd_dir or ""), str(args.medmnist_root or ""), args.folds, args.protocol,
                      args.max_train, args.max_test, args.seed, samples)


def _selected(args: argparse.Namespace) -> tuple[tuple[str, ...], tuple[str, ...]]:
    impls = IMPLEMENTATIONS if args.impl == "all" else (args.impl,)
    rules = RULES if args.rule == "all" else (args.rule,)
    return impls, rules


def _storage(args: argparse.Namespace) -> str:
    from engine.snndeep.tune import default_storage

    return args.storage or default_storage(args.study_dir)


def cmd_make_demo(args: argparse.Namespace) -> dict:
    from engine.snndeep.demo import build_demo_msd
    from engine.snndeep.msd import MSDTask

    out = build_demo_msd(args.volumes, args.out, patients_per_volume=args.patients_per_volume)
    return {"msd_dir": str(out), "cases": len(MSDTask(out).cases)}


def cmd_tune(args: argparse.Namespace) -> dict:
    from engine.snndeep.tune import TuneSettings, tune_combination

    data = _data_config(args)
    settings = TuneSettings(storage=_storage(args), trials=args.trials, workers=args.workers, epochs=args.epochs)
    impls, rules = _selected(args)
    from tqdm import tqdm

    cells = [(impl, rule) for impl in impls for rule in rules]
    studies = [tune_combination(data, impl, rule, settings) for impl, rule in tqdm(cells, desc="studies", leave=False)]
    return {"storage": settings.storage, "studies": studies}


def cmd_run(args: argparse.Namespace) -> dict:
    from engine.snndeep.study import default_combinations, load_samples, run_combinations, save_results
    from engine.snndeep.tune import best_params

    data = _data_config(args)
    impls, rules = _selected(args)
    params = best_params(_storage(args), data.key, impls, rules)
    combos = default_combinations(impls, rules, params, base_rule=RuleConfig(epochs=args.epochs))
    results = run_combinations(data, combos, workers=args.workers)
    path = args.study_dir / f"results-{data.key}.json"
    save_results(path, data, load_samples(data), results)
    table = {f"{r['implementation']}/{r['rule']}": {m: r["summary"][m]["mean"] for m in ("acc", "roc_auc", "pr_auc")} for r in results}
    return {"results": str(path), "tuned": sorted(params), "summary": table}


def cmd_report(args: argparse.Namespace) -> dict:
    from engine.snndeep.report import PipelineConfig, load_payloads, run_pipeline, write_report

    command = "spikeview-engine " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["snndeep"] else ""
    command_file = args.study_dir / "command.txt"
    if args.from_results:
        command = command_file.read_text().strip() if command_file.is_file() else command  # the run that made them
        payloads, tuning, bench = load_payloads(args.study_dir)
        if not payloads:
            raise UserError(f"{args.study_dir} holds no results-*.json; run the report without --from-results first.")
        return {"report": str(write_report(args.out, payloads, tuning, bench, command))}
    if not (args.volumes or args.msd_dir or args.medmnist_root):
        raise UserError("The report needs data: pass --volumes (demo MSD task), --msd-dir and/or --medmnist-root.")
    cfg = PipelineConfig(args.study_dir, args.out, args.volumes, args.medmnist_root, args.msd_dir, args.storage,
                         args.trials, workers=args.workers, folds=args.folds, max_train=args.max_train,
                         max_test=args.max_test, rule=RuleConfig(epochs=args.epochs, rounds=5), bench=not args.no_bench)
    result = run_pipeline(cfg)
    command_file.write_text(command + "\n")
    payloads, tuning, bench = load_payloads(args.study_dir)
    write_report(args.out, payloads, tuning, bench, command)  # again, now with the command line in it
    return result


def cmd_bench(args: argparse.Namespace) -> dict:
    from engine.snndeep.bench import BenchConfig, run_benchmark

    return run_benchmark(BenchConfig(args.samples, args.hidden, args.timesteps, epochs=args.epochs,
                                     medmnist_root=str(args.medmnist_root or "")))


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (`python -m engine.snndeep.cli ...`) until engine/cli.py wires the subcommand in."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="spikeview-engine")
    add_snndeep_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
