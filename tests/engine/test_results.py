"""scripts/results.py: the whole pipeline in --quick mode on real MedMNIST files (2D and 3D), the
published baselines it reads, and the page it writes."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.results.baselines import best_published, read_baselines, reference_for
from engine.results.jobs import (ABLATIONS, EPOCHS_FACTOR, JOB_FILE, ONLY_FOR_DIMS, START_FROM, Job, Runner,
                                 ablation_jobs, files_found, table_jobs)
from engine.results.report import mean_sd
from engine.runs.rundir import RunDir

REPO = Path(__file__).resolve().parents[2]
STARTING = [name for name, (_, options) in ABLATIONS.items() if START_FROM in options]  # from another set's run


@pytest.fixture(scope="module")
def reference(shared_data: Path) -> Path:
    path = shared_data.parent / "reference" / "medmnist_v2_baselines.md"
    assert path.is_file(), f"the published baselines are missing: {path}"
    return path


def test_published_baselines_are_read(reference):
    table = read_baselines(reference)
    assert len(table) == 18
    assert reference_for("breastmnist", 2, table).acc == pytest.approx(0.863)
    assert reference_for("breastmnist", 2, table).auc == pytest.approx(0.901)
    assert reference_for("vesselmnist3d", 3, table).auc == pytest.approx(0.874)
    best = best_published("pneumoniamnist", table)
    assert (best.acc, best.auc) == (pytest.approx(0.946), pytest.approx(0.991))


def test_jobs_are_the_recipe_with_one_change():
    files = [("breastmnist", 28), ("adrenalmnist3d", 28), ("adrenalmnist3d", 64)]
    table = table_jobs(files, seeds=2)
    assert len(table) == 6 and {j.seed for j in table} == {0, 1}
    ablations = ablation_jobs(files, ("breastmnist", "adrenalmnist3d", "pneumoniamnist"))
    breast = Job("table", "breastmnist", 28).settings()
    recipe_timesteps = breast["timesteps"]
    # pneumoniamnist is not there; 28 px only; the T = variant that is the recipe's own T is left out, each
    # set's variants of the other dimensionality only, and those that start from organamnist (not there)
    assert len(ablations) == 2 * (len(ABLATIONS) - 1) - len(ONLY_FOR_DIMS) - 2 * len(STARTING)
    variants_of = {flag: {j.variant for j in ablations if j.flag == flag} for flag in ("breastmnist", "adrenalmnist3d")}
    assert "strided-stem" in variants_of["breastmnist"] and "half-stride-stem" not in variants_of["breastmnist"]
    assert "half-stride-stem" in variants_of["adrenalmnist3d"] and "strided-stem" not in variants_of["adrenalmnist3d"]
    assert Job("table", "breastmnist", 28).settings()["model_overrides"] == {"stem_stride": 1, "attention_stride": 2}
    strided = next(j for j in ablations if j.variant == "strided-stem").settings()["model_overrides"]
    assert strided == {"stem_stride": None, "attention_stride": 1}
    attention_14 = next(j for j in ablations if j.variant == "attention-14").settings()["model_overrides"]
    assert attention_14 == {"stem_stride": 1, "attention_stride": 1}  # the 28-pixel stem kept
    assert "attention-14" not in variants_of["adrenalmnist3d"]
    assert next(j for j in ablations if j.variant == "tta-shift").settings()["tta"] == "flip-shift"
    assert sorted(j.settings()["timesteps"] for j in ablations if j.variant[1:].isdigit()) == \
        sorted(2 * list({1, 2, 4, 8} - {recipe_timesteps}))
    assert all(j.changes_base() for j in ablations if j.variant != "recipe")
    # seed 0 everywhere, the ablations, then more seeds, the smallest training split first
    jobs = {j.name: j for j in table + ablations + table_jobs([("organamnist", 28)], seeds=2)}.values()
    ordered = sorted(jobs, key=lambda job: job.priority)
    assert [(j.kind, j.seed) for j in ordered[:4]] == [("table", 0)] * 4 and ordered[4].kind == "ablation"
    assert [(j.flag, j.seed) for j in ordered[-4:]] == [("breastmnist", 1), ("adrenalmnist3d", 1),
                                                        ("adrenalmnist3d", 1), ("organamnist", 1)]
    rows = {(j.flag, j.variant): j for j in ablations}
    t8 = next(j for j in ablations if j.variant == "t8")
    assert t8.settings()["timesteps"] == 8 and t8.settings()["epochs"] == rows[t8.flag, "recipe"].settings()["epochs"]
    assert next(j for j in ablations if j.variant == "bf16").settings()["precision"] == "bf16"
    assert next(j for j in ablations if j.variant == "augment-x2").settings()["augment_strength"] == 2.0
    # the learning-rate and weight-decay rows: the multiples of the recipe's that their descriptions give
    rates = sorted(j.settings()["lr"] for j in ablations if j.flag == "breastmnist" and j.variant.startswith("lr-"))
    assert rates == [pytest.approx(breast["lr"] / 2), pytest.approx(breast["lr"] * 2)]
    decays = sorted(j.settings()["weight_decay"] for j in ablations
                    if j.flag == "breastmnist" and j.variant.startswith("wd-"))
    assert decays == [0.0, pytest.approx(breast["weight_decay"] * 10)]
    batches = sorted(j.settings()["batch_size"] for j in ablations
                     if j.flag == "breastmnist" and j.variant.startswith("batch-"))
    assert batches == [breast["batch_size"] // 2, breast["batch_size"] * 2]
    assert not any(j.variant.startswith("batch-") for j in ablations if j.flag == "adrenalmnist3d")
    # each family's base is a run of its own, and the row that changes it back is the recipe's settings:
    # 2D, a quarter of the epochs (the epochs-x4 row); 3D, sdt_tiny (the sdt-small row)
    assert rows["breastmnist", "recipe"].kind == "ablation"
    assert rows["breastmnist", "recipe"].settings() == {**breast, "epochs": breast["epochs"] // 4}
    assert rows["breastmnist", "epochs-x2"].settings() == {**breast, "epochs": breast["epochs"] // 2}
    assert rows["breastmnist", "epochs-x4"].settings() == breast
    assert rows["adrenalmnist3d", "recipe"].kind == "ablation"
    assert rows["adrenalmnist3d", "recipe"].settings()["model"] == "sdt_tiny" != Job("table", "adrenalmnist3d", 28).settings()["model"]
    assert rows["adrenalmnist3d", "sdt-small"].settings() == Job("table", "adrenalmnist3d", 28).settings()
    longer = rows["adrenalmnist3d", "epochs-x2"]
    assert longer.settings()["epochs"] == 2 * rows["adrenalmnist3d", "recipe"].settings()["epochs"]
    assert EPOCHS_FACTOR not in longer.settings()  # a job option, not a training setting
    both = next(j for j in ablations if j.variant == "sdt-small-epochs-x2" and j.flag == longer.flag)
    assert both.settings() == {**longer.settings(), "model": "sdt_small"}
    shorter = ablation_jobs(files, ("breastmnist",), {"epochs": 3}, ("recipe", "ce"))
    assert [(j.kind, j.variant, j.settings()["epochs"]) for j in shorter] == [("ablation", "recipe", 3),
                                                                             ("ablation", "ce", 3)]


def test_a_variant_starts_from_the_weights_of_another_sets_table_run(tmp_path):
    files = [("breastmnist", 28), ("organamnist", 28), ("adrenalmnist3d", 28)]
    variants = ("recipe", "organamnist-start", "organamnist-start-epochs-x4")
    jobs = ablation_jobs(files, ("breastmnist", "organamnist", "adrenalmnist3d"), {}, variants, {}, seeds=2)
    started = [job for job in jobs if job.source is not None]
    # on breastmnist only: not on organamnist itself, nor on a set of the other dimensionality
    assert sorted((job.flag, job.variant, job.seed) for job in started) == [
        ("breastmnist", variant, seed) for variant in variants[1:] for seed in (0, 1)]
    assert all(job.source == Job("table", "organamnist", 28, job.seed) for job in started)
    base = next(job for job in jobs if job.flag == "breastmnist" and job.variant == "recipe" and job.seed == 0)
    short, long = (next(job for job in started if job.variant == variant and job.seed == 0) for variant in variants[1:])
    assert short.settings() == base.settings()  # the starting weights are the one change
    assert long.settings() == Job("table", "breastmnist", 28).settings()
    runner = Runner(tmp_path / "runs", tmp_path / "records", tmp_path / "no-data")
    assert runner.job_settings(short) == {**short.settings(),
                                          "init_from": str(runner.run_dir(short.source).resolve())}
    # without the source's weights here, nothing is trained and no folder is left
    assert runner.run_one(short) is False and not runner.run_dir(short).exists()


def test_a_variant_starts_from_another_sets_ablation_base_run_trained_first(tmp_path):
    files = [("breastmnist", 28), ("pneumoniamnist", 28)]
    jobs = ablation_jobs(files, ("breastmnist", "pneumoniamnist"), {}, ("recipe", "pneumoniamnist-start"), {}, seeds=2)
    rows = {(job.flag, job.variant, job.seed): job for job in jobs}
    started = [job for job in jobs if job.source is not None]
    assert sorted((job.flag, job.seed) for job in started) == [("breastmnist", 0), ("breastmnist", 1)]
    for job in started:  # the source is pneumoniamnist's base row of the same seed, a quarter of its table's epochs
        assert job.source == rows["pneumoniamnist", "recipe", job.seed] and job.source.kind == "ablation"
        assert job.source.settings()["epochs"] == round(Job("table", "pneumoniamnist", 28).settings()["epochs"] / 4)
        assert job.settings() == rows["breastmnist", "recipe", job.seed].settings()
    assert START_FROM not in json.dumps(started[0].settings())
    # run_all trains the sources whose weights are not here first (again where only a record is here), then
    # the runs that start from them
    runner = Runner(tmp_path / "runs", tmp_path / "records", tmp_path / "no-data")
    runner.record_path(started[0].source).parent.mkdir(parents=True)
    runner.record_path(started[0].source).write_text(json.dumps({"history": []}))  # finished elsewhere
    calls = []
    runner.run_one = lambda job, need_weights=False: calls.append((job.name, need_weights)) or True
    assert runner.run_all(started) == []
    assert calls == [(job.source.name, True) for job in started] + [(job.name, False) for job in started]


def test_a_started_job_trains_from_the_weights_of_its_source(medmnist_root, tmp_path):
    """The runner hands a job the run it starts from; here a stand-in for organamnist's table run (whose
    evaluation takes minutes): a breastmnist run of the same model in its folder, with its record."""
    from engine.learning.trainer import Trainer
    from engine.options import TrainConfig
    from engine.results.jobs import run_contents

    quick = {"epochs": 1, "train_limit": 64, "model_overrides": {"dims": [8, 16, 32], "heads": 2}}
    job, = ablation_jobs([("breastmnist", 28), ("organamnist", 28)], ("breastmnist",), quick,
                         ("organamnist-start",), quick)
    runner = Runner(tmp_path / "runs", tmp_path / "records", medmnist_root)
    source = runner.run_dir(job.source)
    Trainer(TrainConfig.from_dict({**job.settings(), "data_root": str(medmnist_root), "device": "cpu"}), source).run()
    runner.record_path(job.source).parent.mkdir(parents=True)
    runner.record_path(job.source).write_text(json.dumps(run_contents(source)))

    assert runner.run_one(job)
    record = json.loads(runner.record_path(job).read_text())
    assert record["settings"]["init_from"] == str(source.resolve())
    assert record["job"]["variant"] == "organamnist-start" and 0 <= record["test_acc"] <= 1


def test_ablations_start_from_their_familys_base(monkeypatch):
    from engine.results.jobs import ABLATION_BASE, variant_ensembles
    from engine.results.report import _base_text, _recipe_variant_text

    monkeypatch.setitem(ABLATION_BASE, 2, {})
    monkeypatch.setitem(ABLATION_BASE, 3, {"timesteps": 4})
    files = [("breastmnist", 28), ("adrenalmnist3d", 28)]
    jobs = {(j.flag, j.variant): j for j in ablation_jobs(files, ("breastmnist", "adrenalmnist3d"))}
    # 2D: the base is the recipe, so its row is the table's run; 3D: a run of its own, which every row changes
    assert jobs["breastmnist", "recipe"].kind == "table"
    base = jobs["adrenalmnist3d", "recipe"]
    assert (base.kind, base.name, base.settings()["timesteps"]) == ("ablation", "adrenalmnist3d_28/ablation-recipe-seed0", 4)
    assert jobs["adrenalmnist3d", "ce"].settings() == {**base.settings(), "loss": "ce"}
    assert ("adrenalmnist3d", "t4") not in jobs and ("breastmnist", "t4") in jobs
    record = {"job": {"kind": "ablation", "flag": "adrenalmnist3d"}, "settings": base.settings()}
    assert _recipe_variant_text(record).startswith(f"the ablations' base ({base.settings()['model']}, TET, T=4,")
    assert _base_text() == ["On 3D sets every row starts from the recipe with timesteps 4 (the row *the "
                            "ablations' base*); the row that changes that back is the recipe."]
    # the base's seeds are not scored together: that ensemble's name is the table's
    together = variant_ensembles(ablation_jobs(files, ("adrenalmnist3d",), variants=("recipe", "ce"), seeds=2))
    assert [e.name for e in together] == ["adrenalmnist3d_28/ensemble-ce-2-seeds"]
    monkeypatch.undo()
    assert _base_text()[0].startswith("On 2D sets every row starts from the recipe with 0.25 times its epochs")


def _record(job: Job, acc: float) -> dict:
    """A run's record, as far as the page reads it."""
    energy = {"firing_rate": 0.1, "energy_uj": 1.0}
    return {"job": {"kind": job.kind, "flag": job.flag, "size": job.size, "seed": job.seed, "variant": job.variant,
                    "options": job.options},
            "epochs": job.settings()["epochs"], "settings": job.settings(), "test_acc": acc, "test_auc": 0.9,
            "val_acc": acc, "val_auc": 0.9, "energy": energy, "train_seconds": 10.0}


def test_ablations_on_several_seeds_are_shown_as_mean_and_sd(monkeypatch):
    from engine.results.jobs import ABLATION_BASE
    from engine.results.report import ablation_tables

    monkeypatch.setitem(ABLATION_BASE, 2, {})  # a base that is the recipe: its rows are the table's runs
    files = [("breastmnist", 28)]
    jobs = ablation_jobs(files, ("breastmnist",), variants=("recipe", "ce", "epochs-x2"), seeds=2)
    assert sorted((j.kind, j.variant, j.seed) for j in jobs) == [
        ("ablation", "ce", 0), ("ablation", "ce", 1), ("ablation", "epochs-x2", 0), ("ablation", "epochs-x2", 1),
        ("table", "recipe", 0), ("table", "recipe", 1)]
    epochs = Job("table", "breastmnist", 28).settings()["epochs"]
    results = [_record(job, 0.8 + 0.1 * job.seed) for job in jobs]
    results.append(_record(Job("table", "breastmnist", 28, seed=2), 0.0))  # a table seed the ablations lack
    for r in results:
        if r["job"]["variant"] == "ce":
            r["note"] = "trained beside the test suite"
    text = "\n".join(ablation_tables(results))
    # a note under the table names its row and the seeds it was written for, once
    assert text.count("trained beside the test suite") == 1
    assert "- *CE on the mean output instead of TET* (seeds 0, 1): trained beside the test suite." in text
    assert "| CE on the mean output instead of TET | 2 | 0.850 ± 0.071 | 0.900 ± 0.000 |" in text
    assert "clean images) | 2 | 0.850 ± 0.071 |" in text  # the table's seeds 0 and 1, not seed 2
    # a longer schedule is a row of its own, named with its epochs; the set's heading keeps the recipe's
    assert f"### breastmnist ({epochs} epochs)" in text
    assert f"| twice the epochs, the same schedule stretched ({2 * epochs} epochs) | 2 |" in text


def test_an_ablation_variants_seeds_are_scored_together_when_asked(monkeypatch):
    from engine.results.jobs import ABLATION_BASE, ensemble_record, ensembles, variant_ensembles
    from engine.results.report import ablation_tables, ensemble_table

    monkeypatch.setitem(ABLATION_BASE, 2, {})  # a base that is the recipe: its rows are the table's runs
    files = [("breastmnist", 28)]
    jobs = ablation_jobs(files, ("breastmnist",), variants=("recipe", "ce", "mixup"), seeds=2)
    together = variant_ensembles(jobs)  # the recipe's rows are the table's runs: their ensemble is the table's
    assert [e.name for e in together] == ["breastmnist_28/ensemble-ce-2-seeds", "breastmnist_28/ensemble-mixup-2-seeds"]
    assert variant_ensembles(ablation_jobs(files, ("breastmnist",), variants=("ce",), seeds=1)) == []
    results = [_record(job, 0.8 + 0.1 * job.seed) for job in jobs]

    def scored(ensemble, acc: float) -> dict:
        members = [next(r for r in results if Job(**r["job"]) == job) for job in ensemble.members]
        answer = {"acc": acc, "auc": 0.95, "members": [{"acc": m["test_acc"], "auc": 0.9} for m in members]}
        return ensemble_record(ensemble, {"val": answer, "test": answer}, members)

    results += [scored(together[0], 0.91), scored(ensembles(files, 2)[0], 0.87)]  # ce's and the table's, not mixup's
    text = "\n".join(ablation_tables(results))
    assert "| training time | the seeds together: test ACC / AUC |" in text
    assert "| CE on the mean output instead of TET | 2 | 0.850 ± 0.071 |" in text and "| 0.910 / 0.950 |" in text
    assert "clean images) | 2 |" in text and "| 0.870 / 0.950 |" in text  # the recipe's row: the table's ensemble
    mixup = next(line for line in text.splitlines() if line.startswith(f"| {ABLATIONS['mixup'][0]} | 2 |"))
    assert mixup.endswith("| – |")  # trained on two seeds, not scored together
    # the ensembles' own table is the recipe's; without a variant's ensemble the column is not drawn
    assert [line.split(" | ")[1] for line in ensemble_table(results)[2:]] == ["2 (0, 1)"]
    assert "the seeds together" not in "\n".join(ablation_tables(results[:-2] + results[-1:]))


def test_files_can_be_narrowed_by_flag_and_size(medmnist_root):
    assert files_found(medmnist_root, ["adrenalmnist3d"]) == [("adrenalmnist3d", 28), ("adrenalmnist3d", 64)]
    assert files_found(medmnist_root, ["adrenalmnist3d"], [64]) == [("adrenalmnist3d", 64)]


def test_mean_sd():
    assert mean_sd([0.5]) == "0.500" and mean_sd([0.4, 0.6]) == "0.500 ± 0.141" and mean_sd([]) == "–"


@pytest.mark.slow
def test_quick_mode_on_real_files(medmnist_root, reference, tmp_path):
    runs, page, records = tmp_path / "runs", tmp_path / "results.md", tmp_path / "runs" / "records"
    command = [sys.executable, str(REPO / "scripts" / "results.py"), "--quick", "--data-root", str(medmnist_root),
               "--only", "breastmnist", "adrenalmnist3d", "--ablation-sets", "breastmnist", "--ensemble-variants", "ce",
               "--runs", str(runs), "--out", str(page), "--reference", str(reference), "--jobs", "2"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    results = sorted(path for path in records.glob("*/*.json") if not path.stem.startswith("ensemble-"))
    # breast 28, adrenal 28 and 64, two seeds each (the ensembles' runs in quick mode); the ablations on
    # breast, less the recipe's own T, the 3D-only stem, the recipe row, which is breast's table run, and
    # those that start from organamnist's runs (its file left out here: its evaluation takes minutes); a
    # second seed of the CE variant, for its ensemble
    assert len(results) == 6 + len(ABLATIONS) - 3 - len(STARTING) + 1
    for path in results:
        summary = json.loads(path.read_text())
        # a variant that stretches the schedule trains its factor times the others' one epoch, here too
        epochs = ABLATIONS[summary["job"]["variant"]][1].get(EPOCHS_FACTOR, 1)
        assert summary["epochs"] == epochs and 0 <= summary["test_acc"] <= 1
        assert summary["device"].startswith("CPU")
        run = runs / path.parent.name / path.stem
        assert json.loads((run / JOB_FILE).read_text())["train_limit"] == 64
        assert summary["settings"]["train_limit"] == 64
        assert [row["epoch"] for row in summary["history"]] == list(range(epochs))
        assert summary["calibration"]["temperature"] > 0 and summary["energy"]["firing_rate"] >= 0
    ensembles = sorted(records.glob("*/ensemble-*.json"))
    assert [path.relative_to(records).as_posix() for path in ensembles] == [
        "adrenalmnist3d_28/ensemble-recipe-e1-2-seeds.json", "adrenalmnist3d_64/ensemble-recipe-e1-2-seeds.json",
        "breastmnist_28/ensemble-ce-e1-2-seeds.json", "breastmnist_28/ensemble-recipe-e1-2-seeds.json"]
    for path in ensembles:
        ensemble = json.loads(path.read_text())
        members = [json.loads((records / f"{name}.json").read_text()) for name in ensemble["members"]]
        assert ensemble["job"]["seeds"] == [0, 1] and 0 <= ensemble["test_acc"] <= 1 and ensemble["test_ece"] >= 0
        # each run scored in the ensemble is the run its record describes
        assert [m["acc"] for m in ensemble["member_test"]] == pytest.approx([m["test_acc"] for m in members])
        assert ensemble["energy_uj"] == pytest.approx(sum(m["energy"]["energy_uj"] for m in members))
    text = page.read_text()
    assert "Quick mode" in text and "--quick" in text
    assert "### Ensembles of the seeds" in text and "| breastmnist | 2 (0, 1) |" in text
    assert "| the seeds together: test ACC / AUC |" in text
    assert "| breastmnist | sdt_tiny" in text and "| adrenalmnist3d (64 px) |" in text
    assert "0.863 / 0.901" in text  # ResNet-18 (28) beside BreastMNIST
    recipe_timesteps = json.loads(next((records / "breastmnist_28").glob("table-recipe*-seed0.json")).read_text())["settings"]["timesteps"]
    shown = {name: text_ for name, (text_, _) in ABLATIONS.items()
             if name not in ("recipe", f"t{recipe_timesteps}", "half-stride-stem", *STARTING)}
    stretched = {name for name, (_, options) in ABLATIONS.items() if EPOCHS_FACTOR in options and name not in STARTING}
    assert "## Ablations" in text and all(f"| {description} |" in text for name, description in shown.items()
                                          if name not in stretched)
    assert stretched and all(f"| {ABLATIONS[name][0]} ({ABLATIONS[name][1][EPOCHS_FACTOR]} epochs) |" in text
                             for name in stretched)
    assert (f"| the recipe (sdt_tiny (attention stride 2, stem stride 1), TET, T={recipe_timesteps}, augmentation, enhancement none, membrane shortcut, "
            "batch-norm statistics of clean images) |") in text
    for flag in ("breastmnist_28", "adrenalmnist3d_28", "adrenalmnist3d_64"):
        image = np.asarray(Image.open(tmp_path / "results" / f"{flag}_curves.png").convert("L"))
        assert image.std() > 5  # a drawn chart, not a blank canvas
    # a second call reuses every finished run; the records alone, without the runs, write the same page
    again = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert again.returncode == 0 and "0 runs to train" in again.stderr
    moved = tmp_path / "records-elsewhere"
    records.rename(moved)
    shutil.rmtree(runs)
    rewritten = tmp_path / "again" / "results.md"
    rewritten.parent.mkdir()
    alone = subprocess.run([*command[:command.index("--runs")], "--records", str(moved), "--out", str(rewritten),
                            "--reference", str(reference), "--report-only"], capture_output=True, text=True, cwd=tmp_path)
    assert alone.returncode == 0, alone.stderr[-2000:]
    assert rewritten.read_text().split("## The recipes", 1)[1] == text.split("## The recipes", 1)[1]


def test_a_run_finished_by_another_call_is_not_trained_again(tmp_path):
    from engine.results.jobs import Runner

    job = Job("table", "breastmnist", 28)
    runner = Runner(tmp_path / "runs", tmp_path / "records", tmp_path / "no-data")
    runner.record_path(job).parent.mkdir(parents=True)
    runner.record_path(job).write_text("{}")
    assert runner.run_one(job) is True  # no data here: training would have failed
    assert runner.run_all([job]) == [] and runner.record_path(job).read_text() == "{}"


def test_a_record_without_its_weights_is_trained_again_for_an_ensemble(tmp_path):
    from engine.results.jobs import Runner, ensembles

    runner = Runner(tmp_path / "runs", tmp_path / "records", tmp_path / "no-data")
    ensemble, = ensembles([("breastmnist", 28)], 3)
    assert [job.seed for job in ensemble.members] == [0, 1, 2]
    assert ensemble.name == "breastmnist_28/ensemble-recipe-3-seeds"
    assert ensembles([("breastmnist", 28)], 1) == []
    job = ensemble.members[0]
    runner.record_path(job).parent.mkdir(parents=True)
    runner.record_path(job).write_text("{}")  # a record made on another machine: no run here
    assert not runner.pending(job) and runner.pending(job, need_weights=True)
    assert runner.score(ensemble) is False and not runner.finished(ensemble)  # nothing to score yet

    run = RunDir(runner.run_dir(job))  # the job trained again here, stopped after its first epoch
    run.path.mkdir(parents=True)
    run.append_metrics({"epoch": 0, "val_acc": 0.8, "val_auc": 0.85})
    run.checkpoint_paths("best")[0].write_bytes(b"weights of epoch 0")
    recorded_run = {"history": [{"epoch": e, "val_acc": 0.8, "val_auc": 0.85} for e in (0, 1)]}
    runner.record_path(job).write_text(json.dumps(recorded_run))
    assert runner.pending(job, need_weights=True)  # its weights are not the recorded run's
    run.append_metrics({"epoch": 1, "val_acc": 0.8, "val_auc": 0.85})
    assert not runner.pending(job, need_weights=True)  # now they are: it ran the recorded epochs


def test_a_page_without_runs_of_todays_recipes_says_so(reference, tmp_path):
    """Records of ablations only (say a GPU's, trained before the recipe last changed): no empty tables, no
    plot of a set that has left the table."""
    from engine.results.jobs import Ensemble, ensemble_record
    from engine.results.report import NO_TABLE_TEXT, Page, write_page

    jobs = ablation_jobs([("breastmnist", 28)], ("breastmnist",), variants=("recipe", "ce"), seeds=2)
    results = [_record(job, 0.8 + 0.1 * job.seed) for job in jobs]
    assert {r["job"]["kind"] for r in results} == {"ablation"}
    stale = tmp_path / "page" / "breastmnist_28_curves.png"
    stale.parent.mkdir()
    stale.write_bytes(b"a plot of an earlier table")
    ce = [job for job in jobs if job.variant == "ce"]
    answer = {"acc": 0.9, "auc": 0.95, "members": [{"acc": 0.8, "auc": 0.9}] * 2}
    results.append(ensemble_record(Ensemble(tuple(ce)), {"val": answer, "test": answer},
                                   [r for r in results if r["job"]["variant"] == "ce"]))
    page = Page("table command", "ablation command", tmp_path / "records", reference, ensemble_command="scoring command")
    text = write_page(results, page, tmp_path / "page.md").read_text()
    assert NO_TABLE_TEXT in text and "| dataset | recipe |" not in text and "### Every run" not in text
    assert "| CE on the mean output instead of TET | 2 | 0.850 ± 0.071 |" in text and "| 0.900 / 0.950 |" in text
    assert "### Ensembles of the seeds" not in text and "```bash\nscoring command\n```" in text  # where they were scored
    assert not stale.exists()


def test_a_target_missed_by_rounding_says_by_how_much():
    from engine.results.report import target_status

    runs = [{"test_acc": 0.8798, "test_auc": 0.96}, {"test_acc": 0.8798, "test_auc": 0.95}]
    assert target_status("pneumoniamnist", runs) == ("ACC ≥ 0.88 / AUC ≥ 0.95", "not met (ACC 0.8798)")
    assert target_status("pneumoniamnist", [{"test_acc": 0.9, "test_auc": 0.95}])[1] == "**met**"
    assert target_status("dermamnist", runs) == ("–", "–")


def test_the_command_shown_trains_on_the_same_device_into_the_same_records():
    from engine.results.command import _command, build_parser

    args = build_parser().parse_args(["--data-root", "data", "--only", "pneumoniamnist", "--device", "cuda",
                                      "--records", "docs/results/runs-h200", "--out", "docs/results-h200.md"])
    shown = _command(args, "table")
    assert "--device cuda" in shown and "--records docs/results/runs-h200 --out docs/results-h200.md" in shown
    plain = _command(build_parser().parse_args(["--data-root", "data"]), "table")
    assert "--device" not in plain and "--records" not in plain  # the default page, on the CPU
    variants = build_parser().parse_args(["--data-root", "data", "--ablation-sets", "organamnist", "--ablation-seeds",
                                          "3", "--ensemble-variants", "sdt-small"])
    assert _command(variants, "ensembles").endswith("--seeds 3 --ablation-sets organamnist --ensemble-variants "
                                                    "sdt-small --ablation-seeds 3")
    assert "--ensemble-variants" not in _command(variants, "ablations")
    # the variants' ensembles on fewer sets than the ablations: the ensembles' command names only those
    fewer = build_parser().parse_args(["--data-root", "data", "--ablation-sets", "breastmnist", "organamnist",
                                       "--ensemble-sets", "breastmnist", "--ensemble-variants", "epochs-x4"])
    assert "--ensemble-sets breastmnist --ensemble-variants epochs-x4" in _command(fewer, "ensembles")
    assert "--ablation-sets" not in _command(fewer, "ensembles")
    assert "--ablation-sets breastmnist organamnist" in _command(fewer, "ablations")
