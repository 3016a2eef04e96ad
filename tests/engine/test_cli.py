"""The `spikeview-engine` CLI: the last stdout line is JSON; user errors are one line and exit 2."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from engine.cli import main


def _run(capsys, *argv: str) -> tuple[int, dict | None, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    return code, (json.loads(lines[-1]) if code == 0 else None), captured.err


def test_datasets_lists_every_flag_and_what_is_present(capsys, medmnist_root):
    code, result, _ = _run(capsys, "datasets", "--data-root", str(medmnist_root))
    assert code == 0
    rows = {row["flag"]: row for row in result["datasets"]}
    assert len(rows) == 20 and rows["adrenalmnist3d"]["sizes_present"] == [28, 64]
    assert rows["pathmnist"]["sizes_present"] == [] and rows["chestmnist"]["classes"] == 14


def test_train_prints_the_promised_summary(trained_run):
    summary = json.loads((trained_run / "metrics.jsonl").read_text().splitlines()[-1])
    assert summary["epoch"] == 0
    code = main(["eval", "--run", str(trained_run), "--split", "val"])
    assert code == 0


def test_train_summary_keys(capsys, tmp_path):
    code, result, err = _run(capsys, "train", "--dataset", "phantom2d", "--epochs", "1", "--batch-size", "50",
                             "--train-limit", "50", "--model-options", '{"dims": [8, 16, 32]}',
                             "--device", "cpu", "--out", str(tmp_path))
    assert code == 0
    for key in ("dataset", "model", "epochs", "best_epoch", "val_acc", "val_auc", "test_acc", "test_auc",
                "train_images_per_s", "run_dir", "energy"):
        assert key in result
    assert "epoch 0" in err  # the progress goes to stderr


def test_eval_and_infer(capsys, trained_run, tmp_path):
    code, result, _ = _run(capsys, "eval", "--run", str(trained_run))
    assert code == 0 and {"acc", "auc", "loss", "split"} <= set(result) and result["samples"] == 150
    image = (np.random.default_rng(0).random((40, 40)) * 255).astype(np.uint8)
    Image.fromarray(image).save(tmp_path / "x.png")
    code, result, _ = _run(capsys, "infer", "--run", str(trained_run), str(tmp_path / "x.png"),
                           "--record", str(tmp_path / "rec.npz"))
    assert code == 0 and len(result["probabilities"]) == 3
    assert result["label_name"] in ("no lesion", "hypodense lesion", "hyperdense lesion")
    assert (tmp_path / "rec.npz").exists() and result["firing_rates"]


@pytest.mark.parametrize("argv,fragment", [
    (["train", "--dataset", "livermnist"], "Unknown MedMNIST dataset"),
    (["train", "--dataset", "pathmnist", "--data-root", "/nonexistent"], "pathmnist.npz was not found"),
    (["train", "--epochs", "0"], "--epochs must be at least 1"),
    (["train", "--model-options", '{"wings": 2}', "--epochs", "1"], "wings"),
    (["eval", "--run", "/nonexistent"], "is not a SpikeView run"),
])
def test_user_errors_are_one_sentence_and_exit_2(capsys, argv, fragment, monkeypatch):
    from engine.data import medmnist

    monkeypatch.setattr(medmnist, "_try_download", lambda spec, root: None)
    code, _, err = _run(capsys, *argv)
    assert code == 2
    assert err.startswith("error: ") and fragment in err and len(err.strip().splitlines()) == 1


def test_infer_on_a_corrupt_file_exits_2(capsys, trained_run, tmp_path):
    (tmp_path / "broken.nii.gz").write_bytes(b"\x1f\x8b garbage")
    code, _, err = _run(capsys, "infer", "--run", str(trained_run), str(tmp_path / "broken.nii.gz"))
    assert code == 2 and err.startswith("error: ")


def test_console_script_runs():
    bin_dir = __import__("pathlib").Path(sys.executable).parent
    done = subprocess.run([str(bin_dir / "spikeview-engine"), "datasets"], capture_output=True, text=True)
    assert done.returncode == 0 and json.loads(done.stdout.strip().splitlines()[-1])["datasets"]


def test_bench_prints_side_by_side_figures(capsys):
    code, result, _ = _run(capsys, "bench", "--model", "sdt_tiny", "--batch-size", "2", "--steps", "1",
                           "--repeats", "1", "--compile", "off")
    assert code == 0 and result["threads"] >= 1
    two, three = result["2d"], result["3d"]
    assert set(two["train_images_per_s"]) == {"ours_eager", "stock_layers", "spikingjelly_sdt"}
    assert all(rate > 0 for rate in two["inference_images_per_s"].values())
    assert two["train_ratios"]["ours_eager_over_spikingjelly_sdt"] > 0
    match = two["spikingjelly_sdt"]
    assert match["parameter_gap"] <= 0.1 and match["pooling_stat"] == "1100"  # 7 x 7 tokens, as ours
    assert abs(match["parameters"] - two["parameters"]["ours"]) <= 0.1 * two["parameters"]["ours"]
    assert "2D only" in three["spikingjelly_sdt"] and set(three["train_images_per_s"]) == {"ours_eager", "stock_layers"}
    for section in (two, three):
        assert section["max_output_difference_vs_stock"] < 1e-3
        assert section["ours_compiled"].startswith("not measured")


def test_bench_compares_number_formats_in_one_run(capsys):
    code, result, _ = _run(capsys, "bench", "--model", "sdt_tiny", "--dims", "2", "--batch-size", "2", "--steps",
                           "1", "--repeats", "1", "--compile", "off", "--precision", "fp32", "bf16")
    two = result["2d"]
    assert code == 0 and two["precisions"] == {"fp32": "fp32", "bf16": "bf16"}
    names = {f"{name}_{precision}" for name in ("ours_eager", "stock_layers", "spikingjelly_sdt")
             for precision in ("fp32", "bf16")}
    assert set(two["train_images_per_s"]) == set(two["inference_images_per_s"]) == names
    assert two["train_ratios"]["ours_eager_bf16_over_spikingjelly_sdt_fp32"] > 0