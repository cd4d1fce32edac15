import numpy as np
import pytest

from core import config, models

SEED_PARAMS = {"reference": 225_034, "1-layer": 173_738, "2-layer": 515_146, "3-layer": 1_421_194}


def test_registry_matches_config_names():
    assert tuple(models.MODELS) == config.MODEL_NAMES


@pytest.mark.parametrize("name, params", SEED_PARAMS.items())
def test_seed_parameter_counts(name, params):
    assert models.build(name, (28, 28, 1), 10).count_params() == params


def test_vgg_has_batch_normalization():
    model = models.build("vgg", (28, 28, 1), 10)
    assert sum(type(layer).__name__ == "BatchNormalization" for layer in model.layers) == 5


@pytest.mark.parametrize("name", config.MODEL_NAMES)
def test_any_model_adapts_to_the_data(name):
    model = models.build(name, (32, 32, 3), 5)
    predictions = model.predict(np.zeros((2, 32, 32, 3), "float32"), verbose=0)
    assert predictions.shape == (2, 5)
    assert np.allclose(predictions.sum(axis=1), 1, atol=1e-5)
