"""Ensembles of runs (engine/learning/ensemble.py, `spikeview-engine eval --run A B ...`)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine.cli import main
from engine.errors import UserError
from engine.learning.ensemble import calibrated_probabilities, probability_loss, score_ensemble
from engine.learning.metrics import evaluate_scores
from engine.models import load_for_run


@pytest.fixture(scope="module")
def second_run(tmp_path_factory):
    """Another tiny phantom2d run like `trained_run`, from another seed."""
    out = tmp_path_factory.mktemp("cli") / "run-seed1"
    code = main(["train", "--dataset", "phantom2d", "--epochs", "1", "--batch-size", "50", "--train-limit", "100",
                 "--model-options", '{"dims": [8, 16, 32]}', "--seed", "1", "--device", "cpu", "--out", str(out),
                 "--exact-out"])
    assert code == 0
    return out


def _last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_the_ensemble_is_the_mean_of_the_calibrated_probabilities(trained_run, second_run):
    members = [load_for_run(run, device="cpu") for run in (trained_run, second_run)]
    assert all(member.calibration is not None for member in members)
    alone = [calibrated_probabilities(member, "test", None) for member in members]
    labels = alone[0][1]
    assert not np.allclose(alone[0][0], alone[1][0])  # two different models
    mean = (alone[0][0] + alone[1][0]) / 2
    scores = score_ensemble(members, "test")
    assert scores.samples == len(labels) == 150 and scores.dataset == "phantom2d"
    assert scores.metrics == pytest.approx(evaluate_scores(labels, mean, members[0].task,
                                                           probability_loss(mean, labels, False)))
    for member, (probabilities, _) in zip(scores.members, alone):
        assert member["acc"] == pytest.approx(evaluate_scores(labels, probabilities, members[0].task)["acc"])
    assert 0 <= scores.ece <= 1


def test_a_run_with_itself_is_the_run_alone(capsys, trained_run):
    assert main(["eval", "--run", str(trained_run)]) == 0
    alone = _last_json(capsys)
    assert main(["eval", "--run", str(trained_run), str(trained_run)]) == 0
    both = _last_json(capsys)
    # the temperature changes no decision: the ACC of the run's own evaluation
    assert both["acc"] == pytest.approx(alone["acc"])
    assert len(both["members"]) == 2
    assert {key: both["members"][0][key] for key in ("acc", "auc", "loss")} == pytest.approx(
        {key: both[key] for key in ("acc", "auc", "loss")})
    assert both["runs"] == [str(trained_run)] * 2 and both["samples"] == 150


def test_runs_of_different_datasets_make_no_ensemble(capsys, trained_run, breast_run):
    assert main(["eval", "--run", str(trained_run), str(breast_run)]) == 2
    error = capsys.readouterr().err
    assert "an ensemble's runs must share one dataset and size" in error and len(error.strip().splitlines()) == 1
    with pytest.raises(UserError):
        score_ensemble([])


def test_probability_loss_is_the_cross_entropy():
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0]])
    labels = np.array([[0], [2]])
    expected = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 2])).item()
    assert probability_loss(torch.softmax(logits, -1).numpy(), labels, False) == pytest.approx(expected, rel=1e-5)
    targets = np.array([[1.0, 0.0], [0.0, 1.0]])
    multi = torch.tensor([[1.0, -2.0], [0.3, 0.7]])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(multi, torch.from_numpy(targets).float()).item()
    assert probability_loss(torch.sigmoid(multi).numpy(), targets, True) == pytest.approx(expected, rel=1e-5)
