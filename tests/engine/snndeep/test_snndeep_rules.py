"""Each learning rule learns a separable toy task, in each implementation."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.snndeep.config import IMPLEMENTATIONS, ModelConfig, RuleConfig
from engine.snndeep.metrics import binary_metrics
from engine.snndeep.models import create_snn
from engine.snndeep.rules import run_rule

RULE_SETTINGS = {
    "bptt": (ModelConfig(hidden=32, timesteps=8), RuleConfig(epochs=6, lr=5e-3, batch_size=64)),
    "tempotron": (ModelConfig(timesteps=16), RuleConfig(epochs=5, tempotron_lr=1.0, batch_size=64)),
    "active": (ModelConfig(hidden=32, timesteps=8), RuleConfig(stdp_lr=2.0, rounds=4, initial_labels=40, query_size=40,
                                                               passes_per_round=4, batch_size=40)),
}


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("rule", list(RULE_SETTINGS))
def test_rule_learns_toy_task(rule, implementation, toy_data):
    model_cfg, rule_cfg = RULE_SETTINGS[rule]
    torch.manual_seed(0)
    model = create_snn(implementation, toy_data.n_inputs, 2, model_cfg)
    outcome = run_rule(rule, model, toy_data, rule_cfg, model_cfg, seed=0)
    metrics = binary_metrics(toy_data.y_test, outcome.test_score, outcome.test_pred)
    assert metrics["roc_auc"] > 0.9, metrics
    assert metrics["acc"] > 0.8, metrics
    assert len(outcome.epoch_seconds) > 0


def test_active_learning_curve_counts_labels(toy_data):
    model_cfg, rule_cfg = RULE_SETTINGS["active"]
    model = create_snn("custom", toy_data.n_inputs, 2, model_cfg)
    outcome = run_rule("active", model, toy_data, rule_cfg, model_cfg, seed=0)
    labels = [point["labels"] for point in outcome.label_curve]
    assert labels == sorted(labels) and labels[0] == 40 and labels[-1] == 40 + 4 * 40
    assert outcome.label_curve[-1]["acc"] >= outcome.label_curve[0]["acc"]


def test_active_learning_leaves_the_hidden_layer_alone(toy_data):
    model_cfg, rule_cfg = RULE_SETTINGS["active"]
    model = create_snn("custom", toy_data.n_inputs, 2, model_cfg)
    from engine.snndeep.rules.active import ThreeFactorLearner

    learner = ThreeFactorLearner(model, toy_data.n_inputs, rule_cfg, model_cfg)
    hidden_before = model.fc1.weight.clone()
    learner.update(torch.from_numpy(toy_data.x_train[:40]), torch.from_numpy(toy_data.y_train[:40]), torch.ones(40))
    assert torch.equal(model.fc1.weight, hidden_before)
    assert model.fc2.weight.abs().sum() > 0 and model.fc2.weight.grad is None  # learned locally, no backprop


def test_unknown_rule_is_a_user_error(toy_data):
    from engine.errors import UserError

    with pytest.raises(UserError):
        run_rule("hebb", create_snn("custom", 20, 2, ModelConfig()), toy_data, RuleConfig(), ModelConfig())
