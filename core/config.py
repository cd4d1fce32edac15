"""Experiment configuration, presets and config files. Imports no TensorFlow."""

import ast
import dataclasses
import hashlib
import json
import math
import pathlib
import typing

from core.errors import UsageError

BUILTIN_DATASETS = ("mnist", "fashion-mnist")
MODEL_NAMES = ("reference", "1-layer", "2-layer", "3-layer", "vgg")
DEFAULT_TARGETS = {"mnist": 0.98, "fashion-mnist": 0.90}
PLATFORM_OPTIONS = "platform_options"  # a config file's packaging choices per platform, not part of the experiment


@dataclasses.dataclass
class ExperimentConfig:
    """Everything that defines one training run. Same config + same machine = same weights."""

    dataset: str = "mnist"
    model: str = "reference"
    epochs: int = 1
    optimizer: str = "adam"
    learning_rate: float = 0.001
    batch_size: int = 128
    seed: int = 42
    validation_split: float = 0.0
    fine_tune_epochs: int = 0
    augmentation_epochs: int = 0
    target_accuracy: float | None = None
    test_split: float = 0.2
    max_train_samples: int | None = None
    preset: str | None = None
    model_sha256: str | None = None  # a user model file's (`model: FILE.py:FUNCTION`): part of the identity

    def effective_target(self):
        if self.target_accuracy is not None:
            return self.target_accuracy
        return DEFAULT_TARGETS.get(self.dataset, 0.98)

    def to_dict(self):
        values = dataclasses.asdict(self)
        if values["model_sha256"] is None:  # a built-in model: the same dict, and hash, as before user models
            del values["model_sha256"]
        return values


PRESETS = {
    "mnist-reference": dict(
        dataset="mnist", model="reference", epochs=1, optimizer="adam", learning_rate=0.001,
        batch_size=128, target_accuracy=0.98,
        description="The reference CNN, 1 epoch of Adam on MNIST: >= 98% test accuracy.",
    ),
    "mnist-rmsprop": dict(
        dataset="mnist", model="reference", epochs=1, optimizer="rmsprop", learning_rate=0.001,
        batch_size=128, target_accuracy=0.975,
        description="The seed's 1-epoch MNIST run with RMSprop (about 97.9%: its target is 97.5%).",
    ),
    "fashion-mnist-4epochs": dict(
        dataset="fashion-mnist", model="3-layer", epochs=4, optimizer="adam", learning_rate=0.001,
        batch_size=128, validation_split=0.2, target_accuracy=0.88,
        description="The seed's Fashion-MNIST run: 3-layer CNN, 80/20 split, 4 epochs.",
    ),
    "fashion-mnist-vgg": dict(
        dataset="fashion-mnist", model="vgg", epochs=10, fine_tune_epochs=10, augmentation_epochs=0,
        optimizer="adam", learning_rate=0.001, batch_size=128, validation_split=0.2,
        target_accuracy=0.93,
        description="The seed's VGG schedule: 10 epochs at 1e-3, 10 at 1e-4, then "
        "augmentation_epochs on augmented data (the seed benchmarks 0, 25 and 50).",
    ),
}

FIELDS = {field.name: field for field in dataclasses.fields(ExperimentConfig)}


def _cast(name, value):
    if value is None:
        if type(None) in typing.get_args(FIELDS[name].type):
            return None
        raise UsageError(f"config value {name}=null: give a value, or leave {name} out for the default "
                         f"({FIELDS[name].default!r})")
    value_type = (typing.get_args(FIELDS[name].type) or (FIELDS[name].type,))[0]
    if isinstance(value, bool) or (value_type is str and not isinstance(value, str)) \
            or (value_type is not str and not isinstance(value, (int, float, str))):
        raise UsageError(f"config value {name}={value!r} is not a valid {value_type.__name__}")
    if value_type is int and isinstance(value, float) and not value.is_integer():
        raise UsageError(f"config value {name}={value!r} is not a whole number")
    try:
        cast = value_type(value)
    except (TypeError, ValueError, OverflowError):
        raise UsageError(f"config value {name}={value!r} is not a valid {value_type.__name__}") from None
    if value_type is float and not math.isfinite(cast):
        raise UsageError(f"config value {name}={value!r} is not a finite number")
    return cast


cast_value = _cast  # a value as the config holds it (a grid compares its axes' values so)


def validate(config):
    """Check values that need no TensorFlow; raise UsageError naming the valid choices."""
    is_builtin = config.dataset in BUILTIN_DATASETS
    if not is_builtin and not _exists(config.dataset):
        raise UsageError(
            f"unknown dataset {config.dataset!r}: use one of {', '.join(BUILTIN_DATASETS)} "
            "or the path of your own data set (CSV, IDX folder, .npz or image folder)"
        )
    if model_file(config.model):
        config.model_sha256 = check_model_file(*model_file(config.model), config.model_sha256)
    elif config.model not in MODEL_NAMES:
        raise UsageError(f"unknown model {config.model!r}: valid models are {', '.join(MODEL_NAMES)}, "
                         "or your own as FILE.py:FUNCTION")
    for name in ("epochs", "fine_tune_epochs", "augmentation_epochs"):
        if getattr(config, name) < 0:
            raise UsageError(f"{name} must be >= 0, got {getattr(config, name)}")
    if config.batch_size < 1:
        raise UsageError(f"batch_size must be >= 1, got {config.batch_size}")
    if not config.learning_rate > 0:
        raise UsageError(f"learning_rate must be > 0, got {config.learning_rate}")
    if not 0 <= config.seed < 2**32:
        raise UsageError(f"seed must be in 0..{2**32 - 1} (numpy's range), got {config.seed}")
    if config.max_train_samples is not None and config.max_train_samples < 1:
        raise UsageError(f"max_train_samples must be >= 1 (or unset for all), got {config.max_train_samples}")
    if config.target_accuracy is not None and not 0 < config.target_accuracy <= 1:
        raise UsageError(f"target_accuracy is a fraction in (0, 1], got {config.target_accuracy}")
    if not config.optimizer or not config.optimizer.replace("_", "").isalnum():
        raise UsageError(f"optimizer must be a Keras optimizer name such as adam or rmsprop, got {config.optimizer!r}")
    for name in ("validation_split", "test_split"):
        if not 0 <= getattr(config, name) < 1:
            raise UsageError(f"{name} must be in [0, 1), got {getattr(config, name)}")
    if config.epochs + config.fine_tune_epochs + config.augmentation_epochs == 0:
        raise UsageError("nothing to train: epochs, fine_tune_epochs and augmentation_epochs are all 0")
    return config


def model_file(name):
    """(path, function) of a user model named `FILE.py:FUNCTION`; None for a built-in model's name."""
    path, colon, function = (name or "").rpartition(":")
    return (path, function) if colon and path.endswith(".py") else None


def check_model_file(path, function, expected_sha256=None):
    """The SHA-256 of a user model file that defines `function` (read, not run: no TensorFlow here)."""
    where = f"--model {path}:{function}"
    if not function.isidentifier():
        raise UsageError(f"{where}: {function!r} is not a Python function name: write FILE.py:FUNCTION")
    try:
        content = pathlib.Path(path).read_bytes()
    except OSError as error:
        raise UsageError(f"{where}: cannot read {path} ({error.strerror}): give the path of the Python file "
                         "that defines FUNCTION(input_shape, num_classes)") from None
    try:
        tree = ast.parse(content, filename=path)
    except (SyntaxError, ValueError) as error:
        raise UsageError(f"{where}: {path} line {getattr(error, 'lineno', '?')}: {getattr(error, 'msg', error)}: "
                         "fix the syntax") from None
    if function not in _top_level_names(tree):
        raise UsageError(f"{where}: {path} defines no {function}: add def {function}(input_shape, num_classes) "
                         "returning a keras.Model")
    digest = hashlib.sha256(content).hexdigest()
    if expected_sha256 not in (None, digest):
        raise UsageError(f"{where}: {path} is not the file this config was made with (sha256 {digest[:12]}, "
                         f"expected {expected_sha256[:12]}): restore it, or drop model_sha256 to use it as it is")
    return digest


def _top_level_names(tree):
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
    return names


def _exists(path):
    try:
        return bool(path) and pathlib.Path(path).exists()
    except (OSError, ValueError):  # a name the file system cannot hold
        return False


def read_config_file(path):
    path = pathlib.Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read config file {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise UsageError(f"config file {path} is not UTF-8 text (byte {error.start}): save it as UTF-8") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            values = yaml.safe_load(text) or {}
        else:
            values = json.loads(text)
    except Exception as error:  # yaml and json raise different types
        raise UsageError(f"config file {path} is not valid {path.suffix[1:].upper()}: {error}") from None
    if not isinstance(values, dict):
        raise UsageError(f"config file {path} must hold a mapping of option: value")
    return values


def build_config(preset=None, config_file=None, overrides=None):
    """Preset, then config file, then command-line overrides; each layer wins over the one before."""
    values = {}
    if preset is not None:
        if not isinstance(preset, str) or preset not in PRESETS:
            raise UsageError(f"unknown preset {preset!r}: valid presets are {', '.join(PRESETS)}")
        values.update({k: v for k, v in PRESETS[preset].items() if k != "description"})
        values["preset"] = preset
    if config_file is not None:
        file_values = read_config_file(config_file)
        file_values.pop(PLATFORM_OPTIONS, None)  # how a platform packages the run: the adapters read it
        if "preset" in file_values and preset is None:
            given = {k: v for k, v in (overrides or {}).items() if v is not None}  # an unset flag keeps the file's value
            return build_config(file_values.pop("preset"), None, {**file_values, **given})
        if file_values.get("preset") not in (None, preset):
            raise UsageError(f"config file {config_file} names preset {file_values['preset']!r} but --preset is "
                             f"{preset!r}: drop one of them")
        file_values.pop("preset", None)
        values.update(file_values)
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    unknown = sorted(map(str, set(values) - set(FIELDS)))  # a YAML key may be a number
    if unknown:
        raise UsageError(f"unknown config keys {', '.join(unknown)}: valid keys are {', '.join(FIELDS)}")
    return validate(ExperimentConfig(**{k: _cast(k, v) for k, v in values.items()}))


def config_from_dict(values):
    return build_config(overrides=values) if values.get("preset") is None else build_config(
        values["preset"], None, {k: v for k, v in values.items() if k != "preset"})
