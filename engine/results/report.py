"""`docs/results.md` from finished jobs: the recipe table beside the published baselines, the
per-seed runs, calibration, the ablations, and one curves plot per set."""
from __future__ import annotations

import datetime
import math
import statistics
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from engine.data.catalog import get_spec
from engine.results.baselines import Baseline, best_published, read_baselines, reference_for
from engine.results.jobs import ABLATION_BASE, ABLATIONS, EPOCHS_FACTOR, Job, ablation_base
from engine.snndeep.plot import line_chart

# The targets of issue 13 (test split), beside which the table says "met" or "not met".
TARGETS: dict[str, dict[str, float]] = {
    "breastmnist": {"acc": 0.87, "auc": 0.92},
    "pneumoniamnist": {"acc": 0.88, "auc": 0.95},
    "organamnist": {"acc": 0.94},
    "adrenalmnist3d": {"acc": 0.80, "auc": 0.85},
    "vesselmnist3d": {"acc": 0.93, "auc": 0.93},
}


@dataclass
class Page:
    """What the page says about how it was made."""

    table_command: str
    ablation_command: str
    records_root: Path
    reference: Path
    quick: bool = False
    ensemble_command: str = ""


def mean_sd(values: list[float]) -> str:
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def _mean(values: list[float]) -> float:
    values = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.mean(values) if values else float("nan")


def _pair(baseline: Baseline | None) -> str:
    return f"{baseline.acc:.3f} / {baseline.auc:.3f}" if baseline else "–"


def target_status(flag: str, runs: list[dict]) -> tuple[str, str]:
    target = TARGETS.get(flag)
    if not target:
        return "–", "–"
    wanted = " / ".join(f"{k.upper()} ≥ {v:.2f}" for k, v in target.items())
    short = {k: _mean([r.get(f"test_{k}") for r in runs]) for k, v in target.items()}
    short = {k: value for k, value in short.items() if not value >= target[k]}
    if not short:
        return wanted, "**met**"
    return wanted, "not met (" + ", ".join(f"{k.upper()} {value:.4f}" for k, value in short.items()) + ")"


def _model_text(settings: dict) -> str:
    """The model and the architecture options the settings change (the shortcut is named apart)."""
    changes = {k: v for k, v in (settings.get("model_overrides") or {}).items() if k != "shortcut"}
    details = ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in sorted(changes.items()))
    return f"{settings['model']} ({details})" if details else settings["model"]


def _recipe_text(run: dict) -> str:
    job = run["settings"]
    return (f"{_model_text(job)}, T={job['timesteps']}, {job['epochs']} ep, batch {job['batch_size']}, "
            f"{job['loss'].upper()}")


def _recipe_row_name(run: dict) -> str:
    """"the recipe", or "the ablations' base" where that is a run of its own, not the table's."""
    own_run = run["job"]["kind"] == "ablation" and ablation_base(run["job"]["flag"])
    return "the ablations' base" if own_run else "the recipe"


def _recipe_variant_text(run: dict) -> str:
    """The ablation table's first row: what the recipe (or the family's ablation base) is, in the terms
    the other rows change."""
    job = run["settings"]
    shortcut = job.get("model_overrides", {}).get("shortcut", "membrane")
    statistics = "clean" if job.get("recalibrate_bn", False) else "augmented"  # older records: augmented
    return (f"{_recipe_row_name(run)} ({_model_text(job)}, {job['loss'].upper()}, T={job['timesteps']}, "
            f"{'' if job['augment'] else 'no '}augmentation, "
            f"enhancement {job['enhance']}, {shortcut} shortcut, batch-norm statistics of {statistics} images)")


def _group(results: list[dict], kind: str) -> dict[tuple[str, int], list[dict]]:
    groups: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for result in results:
        if result["job"]["kind"] == kind:
            groups[(result["job"]["flag"], result["job"]["size"])].append(result)
    return dict(sorted(groups.items()))


def _title(flag: str, size: int) -> str:
    return flag if size == 28 else f"{flag} ({size} px)"


def main_table(results: list[dict], baselines: dict) -> list[str]:
    lines = ["| dataset | recipe | seeds | test ACC | test AUC | ResNet-18 ACC / AUC | best published ACC / AUC "
             "| target (issue 13) | | training time / seed | device |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for (flag, size), runs in _group(results, "table").items():
        dims = get_spec(flag, size).spatial_dims
        wanted, status = target_status(flag, runs) if size == 28 else ("–", "–")
        lines.append(
            f"| {_title(flag, size)} | {_recipe_text(runs[0])} | {len(runs)} "
            f"| {mean_sd([r['test_acc'] for r in runs])} | {mean_sd([r.get('test_auc') for r in runs])} "
            f"| {_pair(reference_for(flag, dims, baselines))} | {_pair(best_published(flag, baselines))} "
            f"| {wanted} | {status} | {_mean([r['train_seconds'] for r in runs]):.0f} s | {runs[0]['device']} |")
    return lines


def seed_table(results: list[dict]) -> list[str]:
    lines = ["| dataset | seed | best epoch | val ACC | val AUC | test ACC | test AUC | training s | wall s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (flag, size), runs in _group(results, "table").items():
        for r in sorted(runs, key=lambda r: r["job"]["seed"]):
            lines.append(f"| {_title(flag, size)} | {r['job']['seed']} | {r['best_epoch']} | {r['val_acc']:.3f} "
                         f"| {_fmt(r.get('val_auc'))} | {r['test_acc']:.3f} | {_fmt(r.get('test_auc'))} "
                         f"| {r['train_seconds']:.0f} | {r['wall_seconds']:.0f} |")
    return lines


def _fmt(value: float | None) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.3f}"


def calibration_table(results: list[dict]) -> list[str]:
    lines = ["| dataset | temperature | test ECE before | test ECE after | val ECE before | val ECE after |",
             "|---|---|---|---|---|---|"]
    for (flag, size), runs in _group(results, "table").items():
        cal = [r["calibration"] for r in runs if r.get("calibration")]
        if cal:
            lines.append(f"| {_title(flag, size)} | {mean_sd([c['temperature'] for c in cal])} "
                         f"| {mean_sd([c['test_ece_before'] for c in cal])} | {mean_sd([c['test_ece_after'] for c in cal])} "
                         f"| {mean_sd([c['val_ece_before'] for c in cal])} | {mean_sd([c['val_ece_after'] for c in cal])} |")
    return lines


def energy_table(results: list[dict]) -> list[str]:
    lines = ["| dataset | parameters | firing rate | synaptic ops / inference | energy / inference | "
             "same network as an ANN |", "|---|---|---|---|---|---|"]
    for (flag, size), runs in _group(results, "table").items():
        e = runs[0]["energy"]
        lines.append(f"| {_title(flag, size)} | {runs[0]['parameters']:,} | {_fmt(e.get('firing_rate'))} "
                     f"| {e['synaptic_ops'] / 1e6:.2f} M | {e['energy_uj']:.2f} µJ | {e['ann_energy_uj']:.1f} µJ |")
    return lines


ENSEMBLE_TEXT = ("The runs of each set's seeds taken together: the mean of their calibrated probabilities (each "
                 "run's own temperature first), scored on the same test split with `spikeview-engine eval --run` "
                 "and the runs' folders. One inference per run, so the energy is the runs' sum. The table above "
                 "says what one run does; this one, what the seeds do together.")


NO_TABLE_TEXT = ("No run of today's recipes is recorded here (the command above trains them); the runs recorded are "
                 "the ablations' below.")


def _recipe_ensembles(results: list[dict]) -> list[dict]:
    """The ensembles of the table's runs (an ablation variant's are in its row)."""
    return [r for r in results if r["job"]["kind"] == "ensemble" and _variant(r) == "recipe"]


def ensemble_table(results: list[dict]) -> list[str]:
    lines = ["| dataset | runs (seeds) | test ACC | test AUC | the runs alone: test ACC / AUC (mean) | test ECE "
             "| val ACC / AUC | energy / inference | target (issue 13) | |", "|---" * 10 + "|"]
    for (flag, size), group in _group(_recipe_ensembles(results), "ensemble").items():
        for r in sorted(group, key=lambda r: len(r["members"])):
            wanted, status = target_status(flag, [r]) if size == 28 else ("–", "–")
            alone = (f"{_mean([m['acc'] for m in r['member_test']]):.3f} "
                     f"/ {_fmt(_mean([m.get('auc') for m in r['member_test']]))}")
            lines.append(f"| {_title(flag, size)} | {len(r['members'])} ({', '.join(map(str, r['job']['seeds']))}) "
                         f"| {r['test_acc']:.3f} | {_fmt(r.get('test_auc'))} | {alone} | {_fmt(r.get('test_ece'))} "
                         f"| {r['val_acc']:.3f} / {_fmt(r.get('val_auc'))} | {r['energy_uj']:.2f} µJ "
                         f"| {wanted} | {status} |")
    return lines


def _variant(result: dict) -> str:
    return result["job"].get("variant", "recipe")  # the table's runs and ensembles are the recipe's


def _ensemble_of(group: list[dict], ensembles: list[dict]) -> dict | None:
    """The ensemble of exactly the runs of `group` (one variant's seeds of one set), if it was scored."""
    names = sorted(Job(**r["job"]).name for r in group)
    return next((e for e in ensembles if sorted(e["members"]) == names), None)


def ablation_tables(results: list[dict]) -> list[str]:
    """A table per ablation set, each variant's figures the mean ± sd over its seeds; the recipe's rows
    are the table's runs of the same seeds where the epochs agree. Where a variant's seeds were scored
    together (`--ensemble-variants`), a column gives each variant's ensemble."""
    lines = []
    ensembles = [r for r in results if r["job"]["kind"] == "ensemble"]
    for (flag, size), runs in _group(results, "ablation").items():
        by_variant: dict[str, list[dict]] = defaultdict(list)
        for r in runs:
            by_variant[r["job"]["variant"]].append(r)
        base_rows = by_variant.get("recipe") or [r for r in runs if EPOCHS_FACTOR not in r["job"].get("options", {})]
        epochs = sorted({r["epochs"] for r in base_rows})
        seeds = {r["job"]["seed"] for r in runs}
        if "recipe" not in by_variant and len(epochs) == 1:
            by_variant["recipe"] = [r for r in results if r["job"]["kind"] == "table" and r["job"]["flag"] == flag
                                    and r["job"]["size"] == size and r["epochs"] == epochs[0]
                                    and r["job"]["seed"] in seeds]
        together = {variant: _ensemble_of(group, ensembles) for variant, group in by_variant.items()}
        scored = any(ensemble and variant != "recipe" for variant, ensemble in together.items())
        lines += [f"### {_title(flag, size)} ({', '.join(map(str, epochs))} epochs)", "",
                  "| variant | seeds | test ACC | test AUC | val ACC | val AUC | firing rate | energy / inference "
                  "| training time |" + (" the seeds together: test ACC / AUC |" if scored else ""),
                  "|---" * (10 if scored else 9) + "|"]
        for variant, (text, _) in ABLATIONS.items():
            group = sorted(by_variant.get(variant, []), key=lambda r: r["job"]["seed"])
            if not group:
                continue
            ensemble_cell = _together_cell(together[variant]) if scored else ""
            text = _recipe_variant_text(group[0]) if variant == "recipe" else text
            if group[0]["epochs"] not in epochs:
                text = f"{text} ({group[0]['epochs']} epochs)"
            energy = [r["energy"] for r in group]
            lines.append(f"| {text} | {len(group)} | {mean_sd([r['test_acc'] for r in group])} "
                         f"| {mean_sd([r.get('test_auc') for r in group])} | {mean_sd([r['val_acc'] for r in group])} "
                         f"| {mean_sd([r.get('val_auc') for r in group])} "
                         f"| {_fmt(_mean([e.get('firing_rate') for e in energy]))} "
                         f"| {_mean([e['energy_uj'] for e in energy]):.2f} µJ "
                         f"| {_mean([r['train_seconds'] for r in group]):.0f} s |{ensemble_cell}")
        lines += [""] + _run_notes(by_variant)
        lines.append("")
    return lines


def _run_notes(by_variant: dict[str, list[dict]]) -> list[str]:
    """The runs' notes under an ablation table, each with its row and the seeds it was written for."""
    seeds: dict[tuple[str, str], list[int]] = defaultdict(list)
    for variant, group in by_variant.items():
        for r in group:
            if r.get("note"):
                name = _recipe_row_name(r) if variant == "recipe" else ABLATIONS[variant][0]
                seeds[name, r["note"]].append(r["job"]["seed"])
    lines = []
    for (name, note), of in sorted(seeds.items(), key=lambda item: (item[0][0], min(item[1]))):
        label = "seed" if len(of) == 1 else "seeds"
        lines.append(f"- *{name}* ({label} {', '.join(map(str, sorted(of)))}): {note}.")
    return lines


def _together_cell(ensemble: dict | None) -> str:
    return f" {ensemble['test_acc']:.3f} / {_fmt(ensemble.get('test_auc'))} |" if ensemble else " – |"


def _together_text(results: list[dict], ensemble_command: str) -> list[str]:
    if not any(r["job"]["kind"] == "ensemble" and _variant(r) != "recipe" for r in results):
        return []
    return ["*The seeds together*: a row's runs as one ensemble (the mean of their calibrated probabilities, each "
            "run's own temperature first, scored on the same test split), made by this command (its "
            "`--ensemble-variants`); the recipe's is the table's ensemble.", "", "```bash", ensemble_command, "```"]


def _base_text() -> list[str]:
    """What the ablations of a family start from where that is not the recipe."""
    return [f"On {dims}D sets every row starts from the recipe with "
            f"{', '.join(_option_text(key, value) for key, value in base.items())} (the row *the ablations' base*); "
            "the row that changes that back is the recipe." for dims, base in ABLATION_BASE.items() if base]


def _option_text(key: str, value) -> str:
    return f"{value:g} times its epochs" if key == EPOCHS_FACTOR else f"{key} {value}"


def curves_plots(results: list[dict], folder: Path) -> dict[tuple[str, int], Path]:
    """One PNG per set of the table: validation ACC and AUC per epoch, each seed (and none of a set that
    has left the table)."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*_curves.png"):
        stale.unlink()
    plots = {}
    for (flag, size), runs in _group(results, "table").items():
        series = {}
        for r in sorted(runs, key=lambda r: r["job"]["seed"])[:5]:
            rows = r["history"]
            epochs = [row["epoch"] + 1 for row in rows]
            series[f"val ACC, seed {r['job']['seed']}"] = (epochs, [row["val_acc"] for row in rows])
            series[f"val AUC, seed {r['job']['seed']}"] = (epochs, [row.get("val_auc") or math.nan for row in rows])
        if series and max(len(x) for x, _ in series.values()) > 0:
            path = folder / f"{flag}_{size}_curves.png"
            plots[(flag, size)] = line_chart(path, series, title=f"{_title(flag, size)}: validation per epoch",
                                             xlabel="epoch", ylabel="val ACC / AUC")
    return plots


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


README_BEGIN, README_END = "<!-- begin: results table, written by scripts/results.py -->", "<!-- end: results table -->"


def update_readme(readme: Path, results: list[dict], page: Page, page_link: str) -> bool:
    """Put the recipe table between the README's results markers; False when it has none."""
    text = readme.read_text()
    if README_BEGIN not in text or README_END not in text:
        return False
    head, rest = text.split(README_BEGIN, 1)
    _, tail = rest.split(README_END, 1)
    block = [README_BEGIN, "```bash", page.table_command, "```", "",
             *main_table(results, read_baselines(page.reference)), ""]
    if _recipe_ensembles(results):
        block += ["Ensembles of the seeds:", "", "```bash", page.ensemble_command, "```", "", ENSEMBLE_TEXT, "",
                  *ensemble_table(results), ""]
    block += [f"Every run, energy, calibration, curves and the ablations: [{page_link}]({page_link}).", README_END]
    readme.write_text(head + "\n".join(block) + tail)
    return True


def write_page(results: list[dict], page: Page, out: Path) -> Path:
    """docs/results.md (or `out`) and its plots, in a folder beside it named after it."""
    baselines = read_baselines(page.reference)
    plots = curves_plots(results, out.parent / out.stem)
    lines = ["# Results", ""]
    if page.quick:
        lines += ["**Quick mode (`--quick`): a smoke test of the pipeline, 1 epoch on 64 images. "
                  "These are not results.**", ""]
    lines += [f"Written by `scripts/results.py` on {datetime.date.today().isoformat()} (commit {_commit()}) from "
              f"the run records in `{page.records_root}` (one JSON per run: its settings, validation per epoch, test "
              "metrics, calibration, energy, device and time). Every number below comes from those records; the "
              "command above each section trains the runs they record (a run with a record is not trained again, "
              "so the command can be run again, on any machine, to add seeds or fill gaps).", "",
              "## The recipes on MedMNIST", "", "```bash", page.table_command, "```", "",
              "Official protocol: train on `train`, keep the epoch with the best mean of val ACC and AUC, report "
              "`test`. Each set is trained with its recommended recipe (`spikeview-engine recipes`), one run per "
              "seed; figures are mean ± sd over seeds. Baselines: MedMNIST v2 (`../shared/reference`); "
              "ResNet-18 (28) for 2D, ResNet-18 + 3D for 3D. Training time is the sum of the epochs' time "
              "(evaluation excluded) on the device named, which was shared with other work while it ran.", ""]
    if not _group(results, "table"):
        lines += [NO_TABLE_TEXT, ""]
    else:
        lines += _table_sections(results, page, baselines, plots, out)
    ablations = ablation_tables(results)
    if ablations:
        lines += ["## Ablations", "", "```bash", page.ablation_command, "```", "",
                  "One change at a time from the recipe (mean ± sd over the seeds counted in each row, the epochs "
                  "named with each set): loss, timesteps, augmentation, contrast enhancement, shortcut, number format, "
                  "the first stage's resolution and the attention grid, the test-time views, the model's size, the "
                  "loss's extras (weight average, mixup, label smoothing, class weights), the learning rate, the "
                  "weight decay, the batch size, the training's length, the starting weights (another set's trained "
                  "run: fine-tuning). Firing rate: spikes per "
                  "neuron per timestep over every spiking neuron; energy per inference as above.",
                  *_base_text(), *_together_text(results, page.ensemble_command), ""] + ablations
    out.write_text("\n".join(lines).rstrip() + "\n")
    return out


def _table_sections(results: list[dict], page: Page, baselines: dict, plots: dict, out: Path) -> list[str]:
    """The recipe table and what belongs to its runs: their ensembles, every seed, energy, calibration, curves."""
    lines = main_table(results, baselines) + [""]
    if _recipe_ensembles(results):
        lines += ["### Ensembles of the seeds", "", "```bash", page.ensemble_command, "```", "", ENSEMBLE_TEXT, ""]
        lines += ensemble_table(results) + [""]
    lines += ["### Every run", ""] + seed_table(results) + [""]
    lines += ["### Energy and firing (seed 0, 16 validation samples)", "",
              "Synaptic operations counted per inference: an accumulate (0.9 pJ) per spike per synapse, a "
              "multiply-accumulate (4.6 pJ) where a layer reads real values; the ANN column runs the same "
              "network without spikes.", ""] + energy_table(results) + [""]
    lines += ["### Calibration (temperature scaling fitted on val)", "",
              "Expected calibration error, 15 equal-width bins of the top-class confidence; the temperature never "
              "changes a decision.", ""] + calibration_table(results) + [""]
    if plots:
        lines += ["### Curves", ""]
        for (flag, size), path in plots.items():
            lines += [f"![{_title(flag, size)}]({out.stem}/{path.name})", ""]
    return lines

