"""Inputs a model can and cannot judge, on real files: a BreastMNIST (ultrasound) model on a head CT, a
phantom3d-trained (simulated CT) model on a brain MR, intensities far outside the training range, a network
that fires no spikes, an old run without a domain record, and the exact input the model saw."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from spikingjelly.activation_based import neuron

from engine.cli import main
from engine.data.pipeline import prepare_array
from engine.errors import UserError
from engine.io import load
from engine.learning.trainer import Trainer
from engine.models import load_for_run
from engine.options import TrainConfig
from engine.probe.inference import infer, run_dataset_sample
from engine.runs.rundir import RunDir


def codes(result) -> list[str]:
    return [flag.code for flag in result.flags]


@pytest.fixture(scope="module")
def breast(breast_run):
    return load_for_run(breast_run, device="cpu")


@pytest.fixture(scope="module")
def phantom3d_run(tmp_path_factory) -> Path:
    """A 3D model of the simulated CT phantoms (organ with hypo- or hyperdense lesions), briefly trained."""
    run = tmp_path_factory.mktemp("runs") / "phantom3d"
    Trainer(TrainConfig(dataset="phantom3d", epochs=1, batch_size=16, train_limit=64, lr=5e-3, device="cpu",
                        model_overrides={"dims": [8, 16, 32], "heads": 2}), run).run()
    return run


def test_the_run_records_its_input_domain(breast_run):
    domain = json.loads((breast_run / "config.json").read_text())["domain"]
    assert (domain["dataset"], domain["modality"], domain["spatial_dims"], domain["n_channels"], domain["size"]) == \
        ("breastmnist", "US", 2, 1, 28)
    stats = domain["intensity"]
    assert stats["images"] == 546 and 0.2 < stats["mean"] < 0.5 and abs(sum(stats["histogram"]) - 1) < 1e-9
    assert stats["percentiles"]["0.5"] <= stats["percentiles"]["50"] <= stats["percentiles"]["99.5"]


def test_its_own_test_images_are_in_its_domain(breast, medmnist_root):
    for index in range(8):
        result = infer(breast, run_dataset_sample(breast, "test", index))
        assert result.in_domain and result.flags == [], (index, result.flags)
        assert result.spikes > 0 and result.provenance.modality == "US"


def test_an_ultrasound_model_on_a_ct_volume_says_so_before_any_class(breast, volumes_dir):
    result = infer(breast, volumes_dir / "CT_pitch.nii.gz")
    assert not result.in_domain
    assert codes(result)[:2] == ["modality", "no_plane"]
    messages = [flag.message for flag in result.flags]
    assert messages[0] == "The model was trained on ultrasound images (breastmnist), but CT_pitch is a CT scan."
    assert "without a chosen plane and slice, so it judged axial slice 29 of 58" in messages[1]
    provenance = result.provenance
    assert (provenance.plane, provenance.plane_chosen, provenance.slice_index, provenance.slice_count) == \
        ("axial", False, 29, 58)
    assert provenance.taken_shape == (248, 175) and provenance.resampled_to == (28, 28)
    assert list(result.to_dict())[:3] == ["in_domain", "domain_flags", "model_input"]  # the verdict comes first


def test_a_chosen_plane_and_slice_are_what_the_model_sees(breast, volumes_dir):
    result = infer(breast, volumes_dir / "CT_pitch.nii.gz", plane="coronal", slice_index=100)
    assert codes(result) == ["modality"], "the plane was chosen; the modality still differs"
    scan = load(volumes_dir / "CT_pitch.nii.gz")
    expected = prepare_array(scan.display_slice("coronal", 100), breast.prep).numpy()
    np.testing.assert_array_equal(result.model_input, expected)
    assert result.provenance.describe().startswith("coronal slice 100 of 248 of CT_pitch (58 x 175), resampled "
                                                   "to 28 x 28, intensities as stored (0 .. 255)")
    with pytest.raises(UserError, match="its axial slices are numbered 0 to 57"):
        infer(breast, volumes_dir / "CT_pitch.nii.gz", plane="axial", slice_index=58)


def test_intensities_far_outside_the_training_range(breast, volumes_dir):
    """CT angiography windowed to its 0.5..99.5th percentiles is almost black: nothing like breast ultrasound."""
    result = infer(breast, volumes_dir / "CT_AVM.nii.gz", plane="axial")
    assert "intensity" in codes(result)
    flag = next(f for f in result.flags if f.code == "intensity")
    assert flag.message.startswith("The input's intensities are far outside the training range")


def test_a_ct_model_on_an_mr(phantom3d_run, volumes_dir):
    loaded = load_for_run(phantom3d_run, device="cpu")
    own = infer(loaded, run_dataset_sample(loaded, "test", 0))
    assert own.in_domain and own.spikes > 0
    result = infer(loaded, volumes_dir / "MR_Gd.nii.gz")
    assert codes(result)[0] == "modality" and not result.in_domain
    assert result.flags[0].message == "The model was trained on CT images (phantom3d), but MR_Gd is an MR scan."
    assert result.provenance.whole_volume and result.provenance.taken_shape == (144, 188, 176)
    assert result.provenance.describe().startswith("the whole volume MR_Gd (144 x 188 x 176), resampled to 28 x 28 x 28")
    with pytest.raises(UserError, match="takes 3D volumes, but case is a 2D image"):
        infer(loaded, _picture())
    with pytest.raises(UserError, match="--plane and --slice choose a slice of a 3D scan for a 2D model"):
        infer(loaded, volumes_dir / "MR_Gd.nii.gz", plane="axial")


def _picture():
    from engine.io import Volume

    return Volume(array=np.zeros((28, 28), np.uint8), spacing=(1.0, 1.0), name="case")


def test_a_slice_in_another_plane_than_the_training_slices(trained_run, volumes_dir):
    """phantom2d's slices are axial, like OrganAMNIST's: a coronal slice is another kind of image."""
    loaded = load_for_run(trained_run, device="cpu")
    result = infer(loaded, volumes_dir / "CT_pitch.nii.gz", plane="coronal", slice_index=120)
    assert "plane" in codes(result) and "modality" not in codes(result)
    assert next(f for f in result.flags if f.code == "plane").message == \
        "The model was trained on axial slices, but it was given a coronal slice."


def test_a_network_that_fires_no_spikes_is_flagged(breast_run, medmnist_root):
    silent = load_for_run(breast_run, device="cpu")
    for node in silent.model.modules():
        if isinstance(node, neuron.BaseNode):
            node.v_threshold = 1e9  # no membrane reaches it: the network stays silent
    result = infer(silent, run_dataset_sample(silent, "test", 0))
    assert result.spikes == 0 and codes(result) == ["no_spikes"] and not result.in_domain
    assert len(result.silent_layers) == sum(isinstance(m, neuron.BaseNode) for m in silent.model.modules())


def test_an_old_run_without_a_domain_record_still_loads(breast_run, tmp_path, volumes_dir):
    old = Path(shutil.copytree(breast_run, tmp_path / "old"))
    config = json.loads((old / "config.json").read_text())
    for key in ("domain", "format", "engine_version"):
        config.pop(key)
    (old / "config.json").write_text(json.dumps(config))
    loaded = load_for_run(old, device="cpu")
    assert not loaded.domain.recorded and loaded.domain.modality == "US" and loaded.domain.intensity is None
    result = infer(loaded, volumes_dir / "CT_pitch.nii.gz", plane="axial")
    assert codes(result) == ["modality", "domain_unknown"]
    assert result.flags[1].severity == "note" and "predates" in result.flags[1].message


def test_the_shipped_sample_run_runs_with_or_without_a_domain_record():
    from spikeview.resources import sample_run_path, sample_scan_path

    recorded = "domain" in RunDir(sample_run_path()).read_config()
    result = infer(sample_run_path(), sample_scan_path())
    assert ("domain_unknown" in codes(result)) is not recorded


def test_the_cli_tells_the_flags_before_the_class(breast_run, volumes_dir, capsys):
    code = main(["infer", "--run", str(breast_run), str(volumes_dir / "CT_pitch.nii.gz"), "--plane", "axial",
                 "--slice", "20"])
    captured = capsys.readouterr()
    assert code == 0
    result = json.loads(captured.out.strip().splitlines()[-1])
    assert result["in_domain"] is False and [f["code"] for f in result["domain_flags"]] == ["modality"]
    assert result["model_input"]["slice_index"] == 20 and result["model_input"]["plane"] == "axial"
    assert result["spikes"] >= 0 and "label_name" in result
    assert captured.err.splitlines()[0] == ("warning: The model was trained on ultrasound images (breastmnist), "
                                            "but CT_pitch is a CT scan.")
    code = main(["infer", "--run", str(breast_run), str(volumes_dir / "CT_pitch.nii.gz"), "--slice", "20"])
    assert code == 2 and "--slice needs --plane" in capsys.readouterr().err
