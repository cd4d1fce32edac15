"""`portability`: the core commands (run, models, presets, data, verify).

The platform commands are added by adapters.cli, which is the installed console entry point.
"""

import argparse
import atexit
import json
import os
import pathlib
import re
import sys
import threading

from core import config as configuration, redact
from core.results import summary_line  # noqa: F401 (the CLI's result line)
from core.errors import UsageError, UserError

ROOT = pathlib.Path(__file__).resolve().parents[1]
RUNS_DIR = ROOT / "results" / "runs"
REFERENCE_DIR = ROOT / "results" / "reference"
TOLERANCE = 0.01


# TensorFlow's C++ log lines (absl format), some written before any setting can silence them
NATIVE_LOG = re.compile(rb"^(?:[IWEF]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] |"
                        rb"WARNING: All log messages before absl::InitializeLog\(\) is called)")


def quiet_tensorflow(verbose=False):
    """Show the experiment's lines and Keras' progress, not TensorFlow's native log lines (oneDNN notes,
    NodeDef errors that are not errors); `verbose` keeps everything."""
    if verbose:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    saved = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump():
        with os.fdopen(read_end, "rb") as source, os.fdopen(os.dup(saved), "wb", buffering=0) as target:
            for line in source:
                if not NATIVE_LOG.match(line):
                    target.write(line)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()

    def restore():
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last writer: the pump drains it and ends
        thread.join(timeout=5)

    atexit.register(restore)


def say(*parts):
    print(*(redact.redact(str(part)) for part in parts), file=sys.stderr, flush=True)


def add_config_options(parser):
    parser.add_argument("--preset", choices=configuration.PRESETS, help="start from a preset (see `portability presets`)")
    parser.add_argument("--config", metavar="FILE", help="a YAML or JSON config file; options on the command line win")
    parser.add_argument("--dataset", help=f"{' or '.join(configuration.BUILTIN_DATASETS)}, or the path of your own data set")
    parser.add_argument("--model", choices=configuration.MODEL_NAMES)
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


def config_from_args(args):
    overrides = {name: getattr(args, name) for name in configuration.FIELDS if name != "preset" and hasattr(args, name)}
    preset = args.preset
    if preset is None and args.config is None and args.dataset is None:
        preset = "mnist-reference"
    return configuration.build_config(preset, args.config, overrides)


def command_run(args):
    quiet_tensorflow(args.verbose)
    config = config_from_args(args)
    from core import experiment

    runs_dir = pathlib.Path(os.environ.get("PORTABILITY_RUNS_DIR") or RUNS_DIR)
    run_experiment(args, config, pathlib.Path(args.out) if args.out else runs_dir / "local" / experiment.make_run_id(config))
    return 0


def run_experiment(args, config, run_dir):
    """Train and evaluate here, printing the experiment's lines (none with --quiet) and the result."""
    from core import experiment

    log = (lambda message: None) if args.quiet else say
    verbose = 0 if args.quiet else (1 if sys.stdout.isatty() else 2)
    results = experiment.run(config, run_dir, data_dir=args.data_dir, verbose=verbose, log=log)
    print(summary_line(results))
    print(f"run folder: {run_dir}")
    return results


def command_models(args):
    quiet_tensorflow()
    from core import models

    print(f"{'model':<10} {'parameters (28x28x1, 10 classes)':>34}")
    for name in models.MODELS:
        print(f"{name:<10} {models.build(name, (28, 28, 1), 10).count_params():>34,}")
    return 0


def command_presets(args):
    for name, values in configuration.PRESETS.items():
        options = ", ".join(f"{k}={v}" for k, v in values.items() if k != "description")
        print(f"{name}\n  {values['description']}\n  {options}")
    return 0


def _dataset_names(name):
    if name is None:
        return list(configuration.BUILTIN_DATASETS)
    if name not in configuration.BUILTIN_DATASETS:
        raise UsageError(f"unknown dataset {name!r}: valid ones are {', '.join(configuration.BUILTIN_DATASETS)}")
    return [name]


def command_data_fetch(args):
    from core import datasets

    failures = []
    for name in _dataset_names(args.name):
        try:
            folder = datasets.fetch(name, log=(lambda m: None) if args.quiet else say)
            print(f"{name}: OK in {folder}")
        except UserError as error:
            failures.append(f"{name}: {error}")
    if failures:
        raise UserError("\n".join(failures))
    return 0


def command_data_verify(args):
    from core import datasets

    status = 0
    for name in _dataset_names(args.name):
        rows = datasets.verify_folder(name, args.data_dir)
        for path, state in rows:
            print(f"{state:<9} {name:<14} {path}")
        if any(state == "MISMATCH" for _, state in rows):
            status = 1
        complete = {path.rsplit("/", 1)[0] for path, state in rows} - {
            path.rsplit("/", 1)[0] for path, state in rows if state != "OK"}
        if not complete:
            say(f"{name}: no folder holds all four verified files; {datasets.FIX_HINTS[name]}")
            status = 1
        elif any(state == "MISMATCH" for _, state in rows):
            say(f"{name}: mismatched files are never used; delete them and {datasets.FIX_HINTS[name]}")
    return status


def find_reference(results, reference=None):
    if reference:
        return pathlib.Path(reference)
    preset = results.get("config", {}).get("preset")
    if preset and (REFERENCE_DIR / f"{preset}.json").is_file():
        return REFERENCE_DIR / f"{preset}.json"
    for candidate in sorted(REFERENCE_DIR.glob("*.json")):
        reference_config = json.loads(candidate.read_text()).get("config", {})
        keys = ("dataset", "model", "epochs", "optimizer", "learning_rate", "batch_size", "seed",
                "validation_split", "fine_tune_epochs", "augmentation_epochs")
        if all(reference_config.get(k) == results.get("config", {}).get(k) for k in keys):
            return candidate
    raise UserError("no reference result matches this run's config; reference results exist for the presets "
                    f"({', '.join(p.stem for p in sorted(REFERENCE_DIR.glob('*.json')))}), or pass --reference FILE")


def compare_with_reference(results, reference, tolerance=TOLERANCE):
    """Rows (check, ok, detail) comparing a run with a reference result."""
    rows = [("data hashes", results["dataset"]["files"] == reference["dataset"]["files"],
             "same data files" if results["dataset"]["files"] == reference["dataset"]["files"] else "different data files"),
            ("parameters", results["model"]["params"] == reference["model"]["params"],
             f"{results['model']['params']:,} vs {reference['model']['params']:,}")]
    difference = results["test"]["accuracy"] - reference["test"]["accuracy"]
    rows.append(("test accuracy", abs(difference) <= tolerance,
                 f"{results['test']['accuracy']:.4f} vs {reference['test']['accuracy']:.4f} "
                 f"(difference {difference:+.4f}, tolerance {tolerance})"))
    same = results["weights_sha256"] == reference["weights_sha256"]
    rows.append(("weights hash (info)", True, "identical to the reference" if same else
                 "differs from the reference (expected across machines or versions)"))
    return rows


def command_verify(args):
    from core import results as results_file

    run_dir = pathlib.Path(args.run_dir)
    path = run_dir / "results.json" if run_dir.is_dir() else run_dir
    try:
        results = results_file.read_json(path)
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read {path}: {error}; pass a run folder that holds results.json") from None
    issues = results_file.problems(results)
    if issues:
        raise UserError(f"{path} does not follow the results schema: {'; '.join(issues)}")
    reference_path = find_reference(results, args.reference)
    reference = results_file.read_json(reference_path)
    rows = compare_with_reference(results, reference, args.tolerance)
    print(f"run {path} against reference {reference_path}:")
    for check, ok, detail in rows:
        print(f"  {'OK  ' if ok else 'FAIL'} {check}: {detail}")
    return 0 if all(ok for _, ok, _ in rows) else 1


def _tolerance(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not a difference of accuracy between 0 and 1")
    return value


def build_parser():
    parser = argparse.ArgumentParser(prog="portability", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser("run", help="train and evaluate the experiment here")
    add_config_options(run)
    run.add_argument("--data-dir", help="a folder holding the four IDX files of the built-in data set")
    run.add_argument("--out", help="the run folder (default results/runs/local/<run-id>)")
    run.add_argument("--quiet", action="store_true", help="print only the result line")
    run.add_argument("--verbose", action="store_true", help="also show TensorFlow's own log lines")
    run.set_defaults(handler=command_run)

    commands.add_parser("models", help="list the models with their parameter counts").set_defaults(handler=command_models)
    commands.add_parser("presets", help="list the presets").set_defaults(handler=command_presets)

    data = commands.add_parser("data", help="fetch or verify the built-in data sets")
    data_commands = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    fetch = data_commands.add_parser("fetch", help="find or download the data set and verify it")
    fetch.add_argument("name", nargs="?", help=f"one of {', '.join(configuration.BUILTIN_DATASETS)} (default: all)")
    fetch.add_argument("--quiet", action="store_true")
    fetch.set_defaults(handler=command_data_fetch)
    verify_data = data_commands.add_parser("verify", help="check every data file against its SHA-256")
    verify_data.add_argument("name", nargs="?")
    verify_data.add_argument("--data-dir", help="check this folder instead of the cache and system folders")
    verify_data.set_defaults(handler=command_data_verify)

    verify = commands.add_parser("verify", help="compare a run with the committed reference result")
    verify.add_argument("run_dir", metavar="RUN_DIR")
    verify.add_argument("--reference", help="a reference results.json (default: the preset's, under results/reference/)")
    verify.add_argument("--tolerance", type=_tolerance, default=TOLERANCE,
                        help="allowed test accuracy difference, 0 to 1 (default %(default)s)")
    verify.set_defaults(handler=command_verify)
    return parser


def main(argv=None, parser=None):
    parser = parser or build_parser()
    for each in _parsers(parser):
        each.allow_abbrev = False  # `--epoch 1` must not be taken as --epochs
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except UserError as error:
        say(f"error: {error}")
        return error.exit_code
    except BrokenPipeError:  # the reader stopped early (`| head`): not an error to report
        sys.stdout = None
        return 141
    except OSError as error:  # a path that cannot be read or written: the user's to fix
        where = f"{error.filename}: " if error.filename else ""
        say(f"error: {where}{error.strerror or error}; check that the path exists and can be written")
        return 1
    except KeyboardInterrupt:
        say("interrupted: nothing incomplete is kept as a result; `portability status` lists the run")
        return 130


def _parsers(parser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _parsers(child)


if __name__ == "__main__":
    sys.exit(main())
