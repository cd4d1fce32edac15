import json

import pytest

from core import config
from core.errors import UsageError


def test_presets_layer_under_file_and_overrides(tmp_path):
    (tmp_path / "c.yaml").write_text("epochs: 3\nbatch_size: 64\n")
    built = config.build_config("mnist-rmsprop", tmp_path / "c.yaml", {"batch_size": 32, "seed": None})
    assert (built.optimizer, built.epochs, built.batch_size, built.seed) == ("rmsprop", 3, 32, 42)
    assert built.preset == "mnist-rmsprop"


def test_json_file_with_preset_and_round_trip(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"preset": "fashion-mnist-4epochs", "epochs": 1}))
    built = config.build_config(config_file=tmp_path / "c.json")
    assert built.dataset == "fashion-mnist" and built.epochs == 1 and built.validation_split == 0.2
    assert config.config_from_dict(built.to_dict()) == built


def test_unset_flags_keep_the_values_of_a_file_that_names_a_preset(tmp_path):
    """`run --config cell.json` with a file naming its preset: flags not given must not reset the file's
    seed to the preset's (every sweep cell would have trained with seed 42)."""
    (tmp_path / "c.json").write_text(json.dumps({"preset": "mnist-reference", "seed": 3, "model": "1-layer"}))
    built = config.build_config(None, tmp_path / "c.json", {"seed": None, "model": None, "epochs": 2})
    assert (built.seed, built.model, built.epochs, built.preset) == (3, "1-layer", 2, "mnist-reference")


@pytest.mark.parametrize("kwargs, message", [
    ({"preset": "nope"}, "unknown preset 'nope': valid presets are mnist-reference, mnist-rmsprop"),
    ({"overrides": {"model": "resnet"}}, "unknown model 'resnet': valid models are reference, 1-layer"),
    ({"overrides": {"dataset": "cifar"}}, "unknown dataset 'cifar': use one of mnist, fashion-mnist"),
    ({"overrides": {"colour": 1}}, "unknown config keys colour: valid keys are dataset"),
    ({"overrides": {"epochs": "two"}}, "epochs='two' is not a valid int"),
    ({"overrides": {"epochs": 1.5}}, "epochs=1.5 is not a whole number"),
    ({"overrides": {"validation_split": 1.2}}, r"validation_split must be in \[0, 1\)"),
    ({"overrides": {"epochs": 0}}, "nothing to train"),
])
def test_bad_values_name_the_valid_ones(kwargs, message):
    with pytest.raises(UsageError, match=message):
        config.build_config(**kwargs)


def test_bad_config_files(tmp_path):
    (tmp_path / "bad.yaml").write_text("epochs: [1,\n")
    with pytest.raises(UsageError, match="bad.yaml is not valid YAML"):
        config.build_config(config_file=tmp_path / "bad.yaml")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(UsageError, match="must hold a mapping"):
        config.build_config(config_file=tmp_path / "list.json")
    with pytest.raises(UsageError, match="cannot read config file"):
        config.build_config(config_file=tmp_path / "missing.json")


def test_targets():
    assert config.build_config("mnist-reference").effective_target() == 0.98
    assert config.build_config(overrides={"dataset": "fashion-mnist"}).effective_target() == 0.90
