"""Recordings: shapes, the neuron cap, attention maps, .npz round trip; inference on files."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from engine.data.catalog import get_spec, load_split
from engine.errors import UserError
from engine.models import create_model
from engine.models import load_for_run
from engine.probe.inference import infer
from engine.probe.recorder import record_sample
from engine.probe.recording import Recording


@pytest.mark.parametrize("dims", [2, 3])
def test_recording_shapes_and_cap(dims):
    torch.manual_seed(0)
    model = create_model("sdt_tiny", 1, 3, dims, timesteps=4)
    model.train()
    sample = torch.rand(1, *(28,) * dims)
    recording = record_sample(model, sample, 4, max_neurons=500, label_names=["a", "b", "c"])
    assert recording.outputs.shape == (4, 3) and recording.probabilities.sum() == pytest.approx(1, abs=1e-5)
    assert recording.input.shape == (1,) + (28,) * dims
    stem_lif = recording.layers["stage1.0.lif"]
    assert stem_lif.shape[0] == 16 and len(stem_lif.channel_rate) == 16
    for layer in recording.layers.values():
        assert layer.spikes.shape == (4, min(500, int(np.prod(layer.shape))))
        assert set(np.unique(layer.spikes)) <= {0, 1}
        assert layer.membrane.shape == layer.spikes.shape
        assert (layer.membrane < layer.v_threshold + 1e-6).all()  # stored after reset
    block = "stage3.0.attn"
    grid = recording.attention_grid[block]
    tokens = int(np.prod(grid))
    assert recording.attention[block].shape == (4, 2, tokens, tokens)
    assert recording.attention_saliency(block).shape == (4, 2, *grid)
    assert not model.stage3[0].attn.attention_map.enabled  # hooks removed afterwards


def test_recording_round_trip(tmp_path):
    model = create_model("sdt_tiny", 1, 2, 2)
    recording = record_sample(model, torch.rand(1, 28, 28), 4, label_names=["no", "yes"])
    loaded = Recording.load(recording.save(tmp_path / "rec.npz"))
    assert loaded.label_names == ["no", "yes"] and loaded.timesteps == 4
    assert loaded.layers.keys() == recording.layers.keys()
    for name, layer in recording.layers.items():
        np.testing.assert_array_equal(loaded.layers[name].spikes, layer.spikes)
        np.testing.assert_array_equal(loaded.layers[name].neuron_index, layer.neuron_index)
        assert loaded.layers[name].shape == layer.shape
    for name in recording.attention:
        np.testing.assert_array_equal(loaded.attention_saliency(name), recording.attention_saliency(name))
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(UserError, match="not a SpikeView recording"):
        Recording.load(tmp_path / "bad.npz")


def test_infer_on_a_png_file_matches_the_dataset_pipeline(breast_run, medmnist_root, tmp_path):
    images, _ = load_split(get_spec("breastmnist"), "test", medmnist_root)
    Image.fromarray(images[0]).save(tmp_path / "case.png")
    loaded = load_for_run(breast_run, device="cpu")
    from_file = infer(loaded, tmp_path / "case.png", record=True)
    from_array = infer(loaded, images[0])
    np.testing.assert_allclose(from_file.probabilities, from_array.probabilities, atol=1e-6)
    assert from_file.label_name in ("malignant", "normal, benign")
    assert from_file.model_input.shape == (1, 28, 28)
    assert from_file.recording.layers


def test_infer_refuses_an_image_of_the_wrong_dimension(breast_run):
    with pytest.raises(UserError, match="2D image"):
        infer(breast_run, np.zeros((2, 2, 2, 2, 2), dtype=np.uint8))


def test_infer_on_a_medmnist_file_sample_matches_the_array(breast_run, medmnist_root):
    images, _ = load_split(get_spec("breastmnist"), "val", medmnist_root)
    loaded = load_for_run(breast_run, device="cpu")
    from_file = infer(loaded, medmnist_root / "breastmnist.npz", split="val", index=5)
    np.testing.assert_allclose(from_file.probabilities, infer(loaded, images[5]).probabilities, atol=1e-6)
    with pytest.raises(UserError, match="index 999"):
        infer(loaded, medmnist_root / "breastmnist.npz", split="val", index=999)
