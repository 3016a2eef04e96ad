"""`python scripts/results.py`: train what the results need, then write `docs/results.md`."""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from engine.results.jobs import (ABLATION_SETS, ABLATIONS, QUICK, Runner, ablation_jobs, ensembles, files_found,
                                 read_results, table_jobs, variant_ensembles)
from engine.results.report import Page, update_readme, write_page

REPO = Path(__file__).resolve().parents[2]
PARTS = ("table", "ensembles", "ablations")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scripts/results.py", description=__doc__)
    parser.add_argument("--data-root", default=os.environ.get("SPIKEVIEW_DATA", str(REPO.parent / "shared/data/medmnist")),
                        help="folder of MedMNIST .npz files: every recipe is trained on every file found")
    parser.add_argument("--seeds", type=int, default=3, help="runs per set for the table (mean ± sd), and the runs "
                                                          "of each set's ensemble")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--only", nargs="+", metavar="FLAG", help="these datasets only")
    parser.add_argument("--sizes", nargs="+", type=int, metavar="PX", help="these image sizes only")
    parser.add_argument("--ablation-sets", nargs="+", default=list(ABLATION_SETS), metavar="FLAG")
    parser.add_argument("--variants", nargs="+", default=list(ABLATIONS), choices=list(ABLATIONS),
                        help="the ablation variants to train (default all)")
    parser.add_argument("--ablation-seeds", type=int, default=1, help="runs per ablation variant (mean ± sd)")
    parser.add_argument("--ensemble-variants", nargs="+", default=[], choices=[v for v in ABLATIONS if v != "recipe"],
                        metavar="VARIANT", help="with --parts ensembles: an ensemble of these ablation variants' "
                                                "--ablation-seeds runs too, on the ablation sets or --ensemble-sets "
                                                "(runs whose weights are not here are trained again)")
    parser.add_argument("--ensemble-sets", nargs="+", metavar="FLAG",
                        help="the sets of the --ensemble-variants ensembles (default: the ablation sets)")
    parser.add_argument("--ablation-epochs", type=int, help="train the ablations for this many epochs "
                                                             "(default: each set's recipe)")
    parser.add_argument("--quick", action="store_true", help="a smoke test: 1 epoch on 64 images per run, "
                                                             "written away from docs/ unless --out says otherwise")
    parser.add_argument("--jobs", type=int, default=1, help="trainings side by side")
    parser.add_argument("--threads", type=int, default=1, help="threads per training (OMP_NUM_THREADS)")
    parser.add_argument("--nice", type=int, default=0, help="niceness of the trainings")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--runs", type=Path, help="where the runs go (default runs/results, or runs/results-quick)")
    parser.add_argument("--records", type=Path, help="where the run records go, one JSON per run, from which the "
                                                     "page is written (default docs/results/runs, or RUNS/records "
                                                     "with --quick)")
    parser.add_argument("--out", type=Path, help="the page (default docs/results.md, or RUNS/results.md with --quick)")
    parser.add_argument("--reference", type=Path, default=REPO.parent / "shared/reference/medmnist_v2_baselines.md")
    parser.add_argument("--report-only", action="store_true", help="train nothing; write the page from finished runs")
    return parser


def _shown_path(path: str) -> str:
    """A path as the page shows it: relative to the checkout when it is beside it (../shared/...)."""
    relative = os.path.relpath(Path(path).resolve(), REPO)
    return relative if not relative.startswith(os.path.join("..", "..")) else str(path)


def _command(args: argparse.Namespace, part: str) -> str:
    words = ["python scripts/results.py", f"--data-root {_shown_path(args.data_root)}", f"--parts {part}"]
    if args.only:
        words.append("--only " + " ".join(args.only))
    if args.sizes:
        words.append("--sizes " + " ".join(map(str, args.sizes)))
    if part in ("table", "ensembles"):
        words.append(f"--seeds {args.seeds}")
    of_variants = part == "ablations" or (part == "ensembles" and args.ensemble_variants)
    if part == "ensembles" and args.ensemble_variants and args.ensemble_sets:
        words.append("--ensemble-sets " + " ".join(args.ensemble_sets))
    elif of_variants and list(args.ablation_sets) != list(ABLATION_SETS):
        words.append("--ablation-sets " + " ".join(args.ablation_sets))
    if part == "ablations" and list(args.variants) != list(ABLATIONS):
        words.append("--variants " + " ".join(args.variants))
    if part == "ensembles" and args.ensemble_variants:
        words.append("--ensemble-variants " + " ".join(args.ensemble_variants))
    if of_variants and args.ablation_seeds != 1:
        words.append(f"--ablation-seeds {args.ablation_seeds}")
    if of_variants and args.ablation_epochs:
        words.append(f"--ablation-epochs {args.ablation_epochs}")
    if args.device != "cpu":
        words.append(f"--device {args.device}")
    if args.records and not args.quick:  # a page of its own (another device's runs, say)
        words.append(f"--records {_shown_path(args.records)}")
    if args.out and not args.quick:
        words.append(f"--out {_shown_path(args.out)}")
    if args.quick:
        words.append("--quick")
    return " ".join(words)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    runs = args.runs or REPO / ("runs/results-quick" if args.quick else "runs/results")
    out = args.out or (runs / "results.md" if args.quick else REPO / "docs/results.md")
    records = args.records or (runs / "records" if args.quick else REPO / "docs/results/runs")
    data_root = Path(args.data_root)
    files = files_found(data_root, args.only, args.sizes)
    if not files and not args.report_only:
        print(f"error: no MedMNIST files found in {data_root}.", file=sys.stderr)
        return 2
    extra = QUICK if args.quick else {}
    jobs = []
    if "table" in args.parts:
        jobs += table_jobs(files, 1 if args.quick else args.seeds, extra)
    ablation_extra = {**({"epochs": args.ablation_epochs} if args.ablation_epochs else {}), **extra}
    if "ablations" in args.parts:
        jobs += ablation_jobs(files, tuple(args.ablation_sets), ablation_extra, tuple(args.variants), extra,
                              1 if args.quick else args.ablation_seeds)
    jobs = list({job.name: job for job in jobs}.values())  # the recipe's ablation rows: the table's runs
    jobs.sort(key=lambda job: job.priority)  # a partial run still gives every set a row and the ablations
    sets = []
    if "ensembles" in args.parts:
        sets = ensembles(files, 2 if args.quick else args.seeds, extra)
        variant_jobs = ablation_jobs(files, tuple(args.ensemble_sets or args.ablation_sets), ablation_extra,
                                     tuple(args.ensemble_variants), extra, 2 if args.quick else args.ablation_seeds)
        sets += variant_ensembles(variant_jobs)
    failed = []
    if not args.report_only:
        runner = Runner(runs, records, data_root, args.device, args.jobs, args.threads, args.nice)
        members = [job for ensemble in sets if not runner.finished(ensemble) for job in ensemble.members]
        todo = ({job.name for job in jobs if runner.pending(job)}
                | {job.name for job in members if runner.pending(job, need_weights=True)}
                | {job.name for job in runner.sources_to_train(jobs + members)})
        every = {job.name for job in jobs + members}
        logging.info("%d runs to train (%d already finished) into %s", len(todo), len(every - todo), runs)
        done = lambda job, ok: logging.info("%s %s", "finished" if ok else "FAILED", job.name)  # noqa: E731
        failed = runner.run_all(jobs, done) + runner.run_all(members, done, need_weights=True)
        failed += [ensemble for ensemble in sets if not runner.score(ensemble)]
    page = Page(_command(args, "table"), _command(args, "ablations"), Path(_shown_path(records)), args.reference,
                args.quick, _command(args, "ensembles"))
    results = read_results(records)
    path = write_page(results, page, out)
    logging.info("wrote %s", path)
    if not args.quick and out.resolve() == (REPO / "docs/results.md").resolve():
        update_readme(REPO / "README.md", results, page, "docs/results.md")
    return 1 if failed else 0
