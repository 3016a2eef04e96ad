"""Recipes: one recommended configuration per MedMNIST flag and size, from data; `train --recipe`."""
from __future__ import annotations

import json

import pytest

from engine.cli import main
from engine.data.catalog import available_sizes, get_spec
from engine.data.medmnist import medmnist_flags
from engine.errors import UserError
from engine.options import TrainConfig
from engine.recipes import EpochRule, all_recommended, apply_recipe, overlay, recipe_from_file, recommended


def _run(capsys, *argv: str) -> tuple[int, dict | None, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, (json.loads(captured.out.strip().splitlines()[-1]) if code == 0 else None), captured.err


def test_every_flag_and_size_has_a_valid_recipe():
    recipes = all_recommended()
    assert {(r.flag, r.size) for r in recipes} == {(f, s) for f in medmnist_flags() for s in available_sizes(f)}
    for recipe in recipes:
        config = recipe.config()
        config.validate()
        assert (config.dataset, config.size) == (recipe.flag, recipe.size)
        assert config.model in ("sdt_tiny", "sdt_small", "sdt_base")


def test_one_recipe_per_family_with_epochs_from_the_training_split():
    """A recipe, not a per-file tuning: two flags of a family differ only in their epochs, and the
    smaller training split gets the longer schedule."""
    breast, organ_a = recommended("breastmnist").settings, recommended("organamnist").settings
    assert {k: v for k, v in breast.items() if k not in ("dataset", "epochs")} == \
        {k: v for k, v in organ_a.items() if k not in ("dataset", "epochs")}
    assert breast["epochs"] > organ_a["epochs"]
    adrenal, vessel = recommended("adrenalmnist3d").settings, recommended("vesselmnist3d").settings
    assert {k: v for k, v in adrenal.items() if k not in ("dataset", "epochs")} == \
        {k: v for k, v in vessel.items() if k not in ("dataset", "epochs")}
    assert get_spec("breastmnist").n_samples["train"] < get_spec("organamnist").n_samples["train"]


def test_epoch_rule_is_bounded():
    rule = EpochRule(at_1000_samples=70, exponent=-0.5, minimum=10, maximum=200)
    assert rule.epochs(1000) == 70 and rule.epochs(4000) == 35
    assert rule.epochs(10_000_000) == 10 and rule.epochs(1) == 200
    stretched = EpochRule(at_1000_samples=70, exponent=-0.5, minimum=10, maximum=200, stretch=4)
    assert [stretched.epochs(n) for n in (546, 4000, 10_000_000)] == [4 * rule.epochs(n) for n in (546, 4000, 10_000_000)]


def test_explicit_options_win_over_the_recipe():
    config = recommended("breastmnist").config(epochs=3, lr=1e-3)
    assert (config.epochs, config.lr, config.dataset) == (3, 1e-3, "breastmnist")
    with pytest.raises(UserError, match="--epochs"):
        apply_recipe(recommended("breastmnist").settings, {"epochs": 0})


def test_model_overrides_are_laid_over_the_recipes_key_by_key():
    recipe = {"dataset": "phantom2d", "model_overrides": {"stem_stride": 1, "attention_stride": 2}}
    merged = overlay(recipe, {"model_overrides": {"shortcut": "spike", "attention_stride": 1}, "epochs": 2})
    assert merged["model_overrides"] == {"stem_stride": 1, "attention_stride": 1, "shortcut": "spike"}
    assert merged["epochs"] == 2 and recipe["model_overrides"] == {"stem_stride": 1, "attention_stride": 2}
    assert apply_recipe(recipe, {"model_overrides": {"shortcut": "spike"}}).model_overrides["stem_stride"] == 1


def test_a_recipe_file_and_its_mistakes(tmp_path):
    good = tmp_path / "mine.json"
    good.write_text(json.dumps({"dataset": "phantom2d", "epochs": 2, "timesteps": 2}))
    assert recipe_from_file(good) == {"dataset": "phantom2d", "epochs": 2, "timesteps": 2}
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(UserError, match="not valid JSON"):
        recipe_from_file(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(UserError, match="JSON object"):
        recipe_from_file(tmp_path / "list.json")
    with pytest.raises(UserError, match="cannot be read"):
        recipe_from_file(tmp_path / "missing.json")
    with pytest.raises(UserError, match="Unknown training option"):
        apply_recipe({"epochz": 3}, {})


def test_recipes_command_lists_them(capsys):
    code, result, _ = _run(capsys, "recipes", "--dataset", "vesselmnist3d", "--size", "64")
    assert code == 0
    (only,) = result["recipes"]
    assert only["train"] == recommended("vesselmnist3d", 64).settings


def test_train_with_the_recommended_recipe_and_overrides(capsys, tmp_path, medmnist_root):
    code, result, _ = _run(capsys, "train", "--recipe", "--dataset", "breastmnist", "--data-root", str(medmnist_root),
                           "--epochs", "1", "--train-limit", "32", "--device", "cpu", "--out", str(tmp_path / "run"),
                           "--exact-out")
    assert code == 0 and result["epochs"] == 1
    saved = TrainConfig.from_dict(json.loads((tmp_path / "run" / "config.json").read_text())["train"])
    expected = recommended("breastmnist").config(epochs=1, train_limit=32, device="cpu",
                                                 data_root=str(medmnist_root))
    assert saved == expected


def test_train_with_a_recipe_file_and_bad_recipes_exit_2(capsys, tmp_path):
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"dataset": "phantom2d", "epochs": 1, "train_limit": 40, "batch_size": 20,
                                  "model_overrides": {"dims": [8, 16, 32], "heads": 2}}))
    code, result, _ = _run(capsys, "train", "--recipe", str(recipe), "--device", "cpu",
                           "--out", str(tmp_path / "run"), "--exact-out", "--seed", "3")
    assert code == 0 and result["dataset"] == "phantom2d"
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["seed"] == 3
    code, _, err = _run(capsys, "train", "--recipe", str(tmp_path / "none.json"), "--out", str(tmp_path / "x"))
    assert code == 2 and "cannot be read" in err
    code, _, err = _run(capsys, "train", "--recipe", "--dataset", "adrenalmnist3d", "--size", "224",
                        "--out", str(tmp_path / "y"))
    assert code == 2 and "sizes" in err
