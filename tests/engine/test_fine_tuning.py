"""Starting a training from a trained run's weights (`init_from`): what is taken, what starts fresh."""
from __future__ import annotations

import pytest
import torch

from engine.data.catalog import get_spec
from engine.errors import UserError
from engine.learning.trainer import Trainer
from engine.models import build_model
from engine.models.loading import start_from_run
from engine.options import TrainConfig
from engine.runs.rundir import RunDir

BREAST_MODEL = {"dims": [8, 16, 32], "heads": 2}  # the `breast_run` fixture's model


def _phantom_config(**changes) -> TrainConfig:
    values = dict(dataset="phantom2d", epochs=1, batch_size=50, train_limit=100, device="cpu",
                  model_overrides=BREAST_MODEL)
    return TrainConfig(**{**values, **changes})


def _labels(spec) -> list[str]:
    return [spec.labels[i] for i in sorted(spec.labels)]


def test_every_layer_but_a_classifier_for_other_labels_is_taken(breast_run):
    config = _phantom_config()
    spec = get_spec(config.dataset, config.size)
    torch.manual_seed(0)
    model = build_model(config, spec)
    fresh_head = model.head.weight.detach().clone()
    source = RunDir(breast_run).load_checkpoint("best").model_state

    taken = start_from_run(model, breast_run, _labels(spec))

    own = model.state_dict()
    assert taken == len(own) - 2  # all but the classifier's weight and bias
    assert all(torch.equal(own[name], source[name]) for name in own if not name.startswith("head."))
    assert torch.equal(model.head.weight, fresh_head)


def test_a_run_on_the_same_labels_gives_its_classifier_too(breast_run, medmnist_root):
    config = TrainConfig(dataset="breastmnist", data_root=str(medmnist_root), model_overrides=BREAST_MODEL)
    spec = get_spec("breastmnist", 28)
    model = build_model(config, spec)

    start_from_run(model, breast_run, _labels(spec))

    assert torch.equal(model.head.weight, RunDir(breast_run).load_checkpoint("best").model_state["head.weight"])


def test_training_starts_from_the_run_and_records_it(breast_run, tmp_path):
    config = _phantom_config(init_from=str(breast_run))
    trainer = Trainer(config, tmp_path / "tuned")
    started = []
    trainer.callbacks.append(lambda event: started.append(trainer.model.state_dict()["stem.conv.conv.weight"].clone())
                             if event.kind == "start" else None)
    trainer.run()

    source = RunDir(breast_run).load_checkpoint("best").model_state
    assert torch.equal(started[0], source["stem.conv.conv.weight"])
    assert RunDir(tmp_path / "tuned").read_config()["train"]["init_from"] == str(breast_run)


def test_another_model_is_refused_in_one_sentence(breast_run):
    config = _phantom_config(model_overrides={"dims": [16, 32, 64], "heads": 2})
    spec = get_spec(config.dataset, config.size)
    with pytest.raises(UserError, match="has another model than the one this training builds"):
        start_from_run(build_model(config, spec), breast_run, _labels(spec))


def test_a_folder_that_is_no_run_is_refused(tmp_path):
    config = _phantom_config()
    spec = get_spec(config.dataset, config.size)
    with pytest.raises(UserError, match="is not a SpikeView run"):
        start_from_run(build_model(config, spec), tmp_path, _labels(spec))
