"""The training levers the recipes choose from: label smoothing, class weights, mixup, the weight
average, test-time views; the spike-shortcut variant; the firing rate in the energy report."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.data.catalog import get_spec
from engine.data.pipeline import load_split_tensors, to_unit_float
from engine.data.transforms import TtaView, tta_views
from engine.errors import UserError
from engine.learning.evaluation import predict_logits
from engine.learning.losses import LossTerms, balanced_class_weights, training_loss
from engine.learning.trainer import AVERAGE_TAG, Trainer
from engine.models import create_model, load_for_run
from engine.models.energy import estimate_energy
from engine.options import TrainConfig
from engine.probe.inference import infer_prepared
from engine.runs.calibration import read_calibration
from engine.runs.rundir import RunDir

LEVERS = dict(label_smoothing=0.1, class_weights="balanced", mixup=0.2, ema_epochs=1.0, tta="flip")


def _config(**changes) -> TrainConfig:
    values = dict(dataset="phantom2d", epochs=2, batch_size=50, train_limit=200, device="cpu",
                  model_overrides={"dims": [8, 16, 32], "heads": 2}, **LEVERS)
    values.update(changes)
    return TrainConfig(**values)


def test_balanced_weights_follow_the_training_labels():
    labels = np.array([[0]] * 90 + [[1]] * 10)
    weights = balanced_class_weights(labels, 2, multi_label=False)
    assert weights[1] / weights[0] == pytest.approx(9.0) and float(weights.mean()) == pytest.approx(1.0)
    multi = balanced_class_weights(np.array([[1, 0], [0, 0], [0, 1], [0, 1]]), 2, multi_label=True)
    assert multi.tolist() == pytest.approx([3.0, 1.0])


def test_loss_terms_change_the_loss_as_they_should():
    outputs = torch.tensor([[[4.0, -4.0], [4.0, -4.0]]])  # T=1, two confident "class 0" answers
    target = torch.tensor([[0], [1]])
    plain = training_loss("ce", outputs, target, False)
    right = target[:1]  # a confident right answer costs more once the labels are smoothed
    assert training_loss("ce", outputs[:, :1], right, False, terms=LossTerms(label_smoothing=0.2)) > \
        training_loss("ce", outputs[:, :1], right, False) + 0.5
    weighted = training_loss("ce", outputs, target, False, terms=LossTerms(class_weights=torch.tensor([0.1, 1.9])))
    assert weighted > plain  # the wrong answer is on the heavier class
    mixed = training_loss("ce", outputs, target, False, terms=LossTerms(mixed_target=target.flip(0), mix=0.5))
    assert mixed == pytest.approx(float(training_loss("ce", outputs, target.flip(0), False) / 2 + plain / 2))


def test_flips_only_where_mirroring_keeps_the_label():
    flips = [view.flip for view in tta_views({0: "benign", 1: "malignant"}, "flip", 2)]
    assert flips == [(), (-1,)]
    assert tta_views({0: "kidney-left", 1: "kidney-right"}, "flip", 2) == [TtaView()]
    assert tta_views({0: "a"}, "none", 3) == [TtaView()]


def test_shifted_views_move_the_image_one_pixel_and_keep_every_label():
    assert len(tta_views({0: "benign", 1: "malignant"}, "flip-shift", 2)) == 2 * 5  # mirrors x (0 + 4 moves)
    assert len(tta_views({0: "kidney-left"}, "flip-shift", 2)) == 5  # moves keep the side of the body
    assert len(tta_views({0: "a"}, "flip-shift", 3)) == 2 * 7
    image = torch.arange(12.0).reshape(1, 1, 3, 4)  # [B, C, H, W]
    right = TtaView(shift=(-1, 1)).apply(image)[0, 0]
    assert right.tolist() == [[0, 0, 1, 2], [4, 4, 5, 6], [8, 8, 9, 10]]  # the edge column repeated
    up = TtaView(flip=(-1,), shift=(-2, -1)).apply(image[0])[0]  # one sample [C, H, W]: mirrored, then up
    assert up.tolist() == [[7, 6, 5, 4], [11, 10, 9, 8], [11, 10, 9, 8]]


def test_inference_averages_the_views_the_evaluation_averaged(tmp_path):
    Trainer(_config(epochs=1, tta="flip-shift", ema_epochs=0.0), tmp_path / "run").run()
    loaded = load_for_run(tmp_path / "run", device="cpu")
    spec = get_spec("phantom2d", 28)
    test = load_split_tensors(spec, "test", loaded.prep).window(0, 1)
    views = tta_views(spec.labels, "flip-shift", spec.spatial_dims)
    logits, _ = predict_logits(loaded.model, test, spec, loaded.config.timesteps, loaded.config.encoder,
                               loaded.device, views=views)
    result = infer_prepared(loaded, to_unit_float(test.images[0:1])[0])
    assert result.probabilities == pytest.approx(torch.softmax(torch.from_numpy(logits[0]), 0).numpy(), abs=1e-5)


def test_training_with_every_lever_saves_the_average_and_a_calibration(tmp_path):
    summary = Trainer(_config(), tmp_path / "run").run()
    run = RunDir(tmp_path / "run")
    assert summary["status"] == "finished" and run.has_checkpoint(AVERAGE_TAG)
    # `best` holds the averaged weights, the ones that were evaluated
    average = run.load_checkpoint(AVERAGE_TAG).model_state
    last = run.load_checkpoint("last").model_state
    if run.load_checkpoint("best").info["epoch"] == 1:
        best = run.load_checkpoint("best").model_state
        assert all(torch.equal(best[k], average[k]) for k in best)
    assert any(not torch.equal(average[k], last[k]) for k in average if average[k].is_floating_point())
    calibration = read_calibration(tmp_path / "run")
    assert calibration is not None and summary["calibration"]["temperature"] == pytest.approx(calibration.temperature)
    assert 0 <= summary["energy"]["firing_rate"] <= 1
    assert load_for_run(tmp_path / "run", device="cpu").temperature == pytest.approx(calibration.temperature)


def test_resume_with_the_weight_average_matches_an_uninterrupted_run(tmp_path):
    full = Trainer(_config(epochs=3), tmp_path / "full").run()

    def stop_after_first_epoch(event):
        if event.kind == "epoch" and event.epoch == 0:
            trainer.stop()

    trainer = Trainer(_config(epochs=3), tmp_path / "resumed", callbacks=[stop_after_first_epoch])
    assert trainer.run()["status"] == "cancelled"
    resumed = Trainer(_config(epochs=3), tmp_path / "resumed", resume=True).run()
    assert resumed["val_loss"] == pytest.approx(full["val_loss"], rel=1e-4)
    assert resumed["test_acc"] == pytest.approx(full["test_acc"])


@pytest.mark.parametrize("dims", [2, 3])
def test_spike_shortcut_has_the_same_parameters_and_trains(dims):
    torch.manual_seed(0)
    kwargs = dict(in_channels=1, num_classes=3, spatial_dims=dims, input_size=28 if dims == 2 else 16)
    membrane = create_model("sdt_tiny", **kwargs)
    spike = create_model("sdt_tiny", shortcut="spike", **kwargs)
    assert membrane.state_dict().keys() == spike.state_dict().keys()
    x = 5 * torch.rand(4, 2, 1, *([kwargs["input_size"]] * dims))  # bright enough for an untrained net to spike
    out = spike(x)
    assert out.shape == (4, 2, 3)
    out.sum().backward()
    assert spike.head.weight.grad is not None
    energy = estimate_energy(spike, x)
    assert 0 < energy.firing_rate < 1 and 0 < estimate_energy(membrane, x).firing_rate < 1
    with pytest.raises(UserError, match="shortcut"):
        create_model("sdt_tiny", shortcut="both", **kwargs)


@pytest.mark.parametrize("dims, stem, first_stage_size", [(2, 1, 28), (3, 2, 14)])
def test_finer_stem_keeps_the_layers_and_the_attention_grid(dims, stem, first_stage_size):
    kwargs = dict(in_channels=1, num_classes=3, spatial_dims=dims, input_size=28)
    default = create_model("sdt_tiny", **kwargs)
    finer = create_model("sdt_tiny", stem_stride=stem, attention_stride=2, **kwargs)
    assert default.state_dict().keys() == finer.state_dict().keys()  # (a smaller stride, a smaller stem kernel)
    x = torch.rand(2, 2, 1, *[28] * dims)
    first_stage = {}
    finer.stage1.register_forward_hook(lambda module, args, out: first_stage.update(shape=out.shape))
    attention = {}
    finer.stage3.register_forward_hook(lambda module, args, out: attention.update(shape=out.shape))
    default_attention = {}
    default.stage3.register_forward_hook(lambda module, args, out: default_attention.update(shape=out.shape))
    assert finer(x).shape == default(x).shape == (2, 2, 3)
    assert tuple(first_stage["shape"][3:]) == (first_stage_size,) * dims  # 2D: every pixel
    assert attention["shape"] == default_attention["shape"]  # and attention the same token grid
    with pytest.raises(UserError, match="stride"):
        create_model("sdt_tiny", attention_stride=0, **kwargs)
