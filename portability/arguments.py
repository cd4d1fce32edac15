"""Arguments shared by several commands: the experiment's config (preset, config file, options) and
the platforms' own options (declared by each adapter: flags and a config file's platform_options)."""

import core.config
import adapters
from core.errors import UsageError

DEFAULT_PRESET = "mnist-reference"


def add_config_options(parser):
    parser.add_argument("--preset", choices=core.config.PRESETS, help="start from a preset (see `portability presets`)")
    parser.add_argument("--config", metavar="FILE", help="a YAML or JSON config file; options on the command line win")
    parser.add_argument("--dataset", help=f"{' or '.join(core.config.BUILTIN_DATASETS)}, or the path of your own data set")
    parser.add_argument("--model", help=f"{', '.join(core.config.MODEL_NAMES)}, or your own as FILE.py:FUNCTION "
                        "(FUNCTION(input_shape, num_classes) returns a keras.Model)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--optimizer", help="any Keras optimizer name: adam, rmsprop, sgd, adamw, ...")
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--validation-split", type=float)
    parser.add_argument("--fine-tune-epochs", type=int, help="epochs at a tenth of the learning rate after --epochs")
    parser.add_argument("--augmentation-epochs", type=int, help="epochs on augmented data (rotation, shift, zoom) at the end")
    parser.add_argument("--target-accuracy", type=float)
    parser.add_argument("--test-split", type=float, help="hold-out fraction for user data sets without a test set")
    parser.add_argument("--max-train-samples", type=int, help="train on the first N samples only (quick checks)")


def add_script_options(parser):
    """Your own experiment: a script or notebook run unmodified (arguments after `--` go to it)."""
    parser.add_argument("--script", metavar="PATH", help="your own Keras script (.py, run as __main__) or notebook "
                        "(.ipynb, run cell by cell in a Jupyter kernel), unmodified; arguments after -- are its argv")
    parser.add_argument("--data", metavar="SRC[:DEST]", action="append", help="a file or folder your script reads, "
                        "put at DEST (default: its name) relative to the script's working folder (repeatable)")
    parser.add_argument("--metric", help="the metric of the script's last Model.evaluate that is its result "
                        "(default accuracy)")
    parser.add_argument("--requirements", metavar="FILE", help="the packages your script needs on platforms that "
                        "install them (default: a requirements.txt beside it, else its imports, pinned to this machine)")


def script_spec(args):
    """The ScriptSpec of `--script` (or a config file's `script:`), or None for the built-in experiment."""
    from core import script

    values = core.config.read_config_file(args.config) if getattr(args, "config", None) else {}
    path = getattr(args, "script", None) or values.get("script")
    if path is None:
        if getattr(args, "data", None) or getattr(args, "script_args", None) or getattr(args, "metric", None):
            raise UsageError("--data, --metric and arguments after -- are for your own script: add --script PATH")
        return None
    builtin = [name for name in ("dataset", "model", "epochs", "preset") if getattr(args, name, None) is not None]
    if builtin:
        raise UsageError(f"--{builtin[0]} is the built-in experiment's; your script decides its own: pass its "
                         "arguments after --")
    return script.ScriptSpec(script=str(path), args=list(getattr(args, "script_args", None) or values.get("args") or []),
                             data=list(args.data or values.get("data") or []),
                             metric=args.metric or values.get("metric") or "accuracy",
                             target_accuracy=args.target_accuracy if args.target_accuracy is not None else values.get("target_accuracy"),
                             seed=args.seed if args.seed is not None else values.get("seed", 42))


def experiment_from_args(args):
    """What a platform command runs: your own script (an own_experiment.ScriptExperiment, checked) when
    --script (or a config file's `script:`) names one, else the built-in experiment's config."""
    spec = script_spec(args)
    if spec is None:
        if getattr(args, "requirements", None):
            raise UsageError("--requirements is for your own script: add --script PATH")
        return config_from_args(args)
    from adapters import own_experiment

    return own_experiment.ScriptExperiment(spec, getattr(args, "requirements", None))


def config_from_args(args):
    """The experiment's config: the preset (mnist-reference when nothing names the experiment), then
    the config file, then the command line's options."""
    overrides = {name: getattr(args, name) for name in core.config.FIELDS if name != "preset" and hasattr(args, name)}
    preset = args.preset
    if preset is None and args.config is None and args.dataset is None:
        preset = DEFAULT_PRESET
    return core.config.build_config(preset, args.config, overrides)


def add_platform_flags(parser):
    """Each platform's flags (e.g. Kaggle's --kernel-type), as its adapter declares them."""
    for name in adapters.names():
        for option in adapters.adapter_class(name).option_specs:
            if option.flag is None:
                continue
            help_text = f"{name} only: {option.help}"
            if option.boolean:
                parser.add_argument(option.flag, dest=f"{name}_{option.name}", action="store_true", default=None,
                                    help=help_text)
            else:
                parser.add_argument(option.flag, dest=f"{name}_{option.name}", choices=option.choices or None,
                                    help=help_text)


def platform_options(args, platforms):
    """{platform: {option: value}} from the config file's platform_options, then the flags (a flag wins).
    A platform's flag used with other platforms is refused."""
    chosen = config_file_options(args.config) if getattr(args, "config", None) else {}
    for name in adapters.names():
        for option in adapters.adapter_class(name).option_specs:
            value = getattr(args, f"{name}_{option.name}", None) if option.flag else None
            if value is None:
                continue
            if list(platforms) != [name]:
                title = adapters.adapter_class(name).display_name or name.capitalize()
                raise UsageError(f"{option.flag} is {title}'s: use it with the {name} platform alone")
            chosen.setdefault(name, {})[option.name] = value
    return chosen


def config_file_options(path):
    """`platform_options: {kaggle: {kernel_type: notebook}}` in a config file, checked against what each
    adapter declares (not part of the experiment, so not in its config or its hashes)."""
    return checked_options(core.config.read_config_file(path).get(core.config.PLATFORM_OPTIONS), f"config file {path}")


def checked_options(options, where):
    """`platform_options` (a config file's or a grid's) checked against what each adapter declares."""
    options = options or {}
    valid = ", ".join(f"{name}.{option.name}" for name in adapters.names()
                      for option in adapters.adapter_class(name).option_specs)
    if not isinstance(options, dict) or not all(isinstance(v, dict) for v in options.values()):
        raise UsageError(f"{where}: platform_options maps a platform to its options ({valid})")
    for name, values in options.items():
        declared = [option.name for option in adapters.adapter_class(name).option_specs] if name in adapters.REGISTRY else []
        for key in values:
            if key not in declared:
                own = ", ".join(f"{name}.{option}" for option in declared)
                raise UsageError(f"{where}: unknown platform option {name}.{key}: valid ones are {own or valid}")
    return {name: dict(values) for name, values in options.items()}


def adapter_for(name, args, platforms=None):
    """The adapter for `name` with the platform options the command line and config file give it."""
    return adapters.get(name, **platform_options(args, platforms or [name]).get(name, {}))
