"""The `snndeep` subcommands through argparse, as engine/cli.py wires them."""
from __future__ import annotations

import argparse
import json

import pytest

from engine.errors import UserError
from engine.snndeep.cli import add_snndeep_parser


def _run(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="spikeview-engine")
    add_snndeep_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result = args.func(args)
    json.dumps(result, default=str)  # the CLI prints it as one JSON line
    return result


def test_make_demo_tune_run_and_report(volumes_dir, tmp_path):
    msd = _run(["snndeep", "make-demo", "--volumes", str(volumes_dir), "--out", str(tmp_path / "msd"), "--patients-per-volume", "4"])
    assert msd["cases"] == 8
    common = ["--task", "msd", "--msd-dir", msd["msd_dir"], "--mode", "features", "--study-dir", str(tmp_path / "study"),
              "--impl", "custom", "--rule", "tempotron"]
    tuned = _run(["snndeep", "tune", *common, "--trials", "2", "--epochs", "2"])
    assert tuned["storage"].startswith("sqlite:///") and tuned["studies"][0]["best_params"]
    ran = _run(["snndeep", "run", *common, "--epochs", "2"])
    assert ran["tuned"] == ["custom/tempotron"] and set(ran["summary"]["custom/tempotron"]) == {"acc", "roc_auc", "pr_auc"}
    report = _run(["snndeep", "report", "--from-results", "--study-dir", str(tmp_path / "study"), "--out", str(tmp_path / "docs")])
    text = (tmp_path / "docs" / "README.md").read_text()
    assert "| custom | tempotron | patient |" in text and "98.35%" in text
    pngs = list((tmp_path / "docs").glob("*.png"))
    assert pngs and all(p.stat().st_size > 1000 for p in pngs)
    assert report["report"].endswith("README.md")


def test_msd_without_folder_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="--msd-dir"):
        _run(["snndeep", "run", "--task", "msd", "--study-dir", str(tmp_path)])


def test_report_without_data_is_a_user_error(tmp_path):
    with pytest.raises(UserError):
        _run(["snndeep", "report", "--study-dir", str(tmp_path), "--out", str(tmp_path / "docs")])


def test_bench_reports_ratios(medmnist_root):
    result = _run(["snndeep", "bench", "--samples", "256", "--hidden", "32", "--timesteps", "4", "--epochs", "1",
                   "--medmnist-root", str(medmnist_root)])
    assert set(result["seconds_per_epoch"]) == {"custom", "snntorch", "spikingjelly"}
    assert result["speedup_custom_vs_snntorch"] > 0 and result["speedup_custom_vs_spikingjelly"] > 0
