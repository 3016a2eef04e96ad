"""Batch-norm statistics recomputed on clean images before a model is scored (`recalibrate_bn`)."""
from __future__ import annotations

import pytest
import torch
from spikingjelly.activation_based import functional
from torch import nn

from engine.data.catalog import get_spec
from engine.data.encoders import encode
from engine.data.pipeline import Preprocessing, load_split_tensors, to_unit_float
from engine.learning.batchnorm import batchnorm_layers, clean_sample, recompute_batchnorm
from engine.learning.trainer import Trainer
from engine.models import load_for_run
from engine.options import TrainConfig
from engine.runs.rundir import RunDir


def test_statistics_are_the_exact_average_of_the_clean_batches_and_settings_come_back():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 1), nn.BatchNorm2d(3))
    model.train()
    for _ in range(20):  # running statistics of "augmented" batches: shifted and scaled
        model(3 + 2 * torch.randn(8, 1, 4, 4))
    model.eval()
    clean = [torch.randn(8, 1, 4, 4) for _ in range(5)]
    recompute_batchnorm(model, clean, model)
    features = model[0](torch.cat(clean)).detach()
    layer = model[1]
    assert torch.allclose(layer.running_mean, features.mean((0, 2, 3)), atol=1e-5)
    per_batch_var = torch.stack([model[0](b).detach().var((0, 2, 3), unbiased=True) for b in clean])
    assert torch.allclose(layer.running_var, per_batch_var.mean(0), atol=1e-5)
    assert layer.momentum == 0.1 and not model.training  # as they were


def test_the_clean_sample_is_fixed_by_the_seed_and_covers_a_small_split():
    assert torch.equal(clean_sample(5000, seed=3), clean_sample(5000, seed=3))
    assert not torch.equal(clean_sample(5000, seed=3), clean_sample(5000, seed=4))
    sample = clean_sample(5000, seed=3)
    assert len(sample) == 1024 and bool((sample[1:] > sample[:-1]).all())  # sorted, no repeats
    assert clean_sample(300, seed=0).tolist() == list(range(300))


def _config(**changes) -> TrainConfig:
    values = dict(dataset="phantom2d", epochs=2, batch_size=50, train_limit=200, device="cpu", timesteps=2,
                  model_overrides={"dims": [8, 16, 32], "heads": 2})
    return TrainConfig(**{**values, **changes})


@pytest.mark.parametrize("recalibrate", [True, False])
def test_the_saved_model_carries_the_statistics_of_clean_training_images(tmp_path, recalibrate):
    summary = Trainer(_config(recalibrate_bn=recalibrate), tmp_path / "run").run()
    assert summary["status"] == "finished"
    loaded = load_for_run(tmp_path / "run", fold=False, device="cpu")
    model, cfg = loaded.model, loaded.config
    saved = [(layer.running_mean.clone(), layer.running_var.clone()) for layer in batchnorm_layers(model)]
    spec = get_spec(cfg.dataset, cfg.size)
    train = load_split_tensors(spec, "train", Preprocessing.for_dataset(spec, cfg.enhance)).window(0, cfg.train_limit)

    def forward(rows):
        model(encode(to_unit_float(train.images[rows]), cfg.timesteps, cfg.encoder))
        functional.reset_net(model)

    recompute_batchnorm(model, clean_sample(len(train), cfg.seed).split(cfg.eval_batch_size), forward)
    again = [(layer.running_mean, layer.running_var) for layer in batchnorm_layers(model)]
    same = all(torch.allclose(a, b, atol=1e-4) for pair, other in zip(saved, again) for a, b in zip(pair, other))
    assert same is recalibrate
    assert RunDir(tmp_path / "run").train_config().recalibrate_bn is recalibrate
