"""Commands about the experiment itself: run (here, in this process), models, presets, data, verify,
notebook."""

import argparse
import contextlib
import pathlib
import re
import sys

import core.config
from core import results as results_file
from core.errors import UsageError, UserError
from core.results import summary_line
from portability import arguments, runs, store
from portability.console import quiet_tensorflow, say
from report import verify

REFERENCE_DIR = store.ROOT / "results" / "reference"


def command_run(args):
    """`portability run`: trains here, in this process, and records the run like every push."""
    spec = arguments.script_spec(args)
    if args.seeds is not None:  # `--seeds ""` is refused by its parser, not taken as no seeds
        from portability import sweep_commands

        if args.out:
            raise UsageError("--out names one run's folder; --seeds makes one run per seed: drop one of them")
        args.timeout = 3600
        if spec is not None:  # your own script, once per seed: checked before anything runs
            from core import script

            script.check(spec)
        return sweep_commands.sweep_seeds(spec or arguments.config_from_args(args), args.seeds, ["local"], args)
    if spec is not None:
        return run_script_here(args, spec)
    config = arguments.config_from_args(args)
    quiet_tensorflow(args.verbose)
    run = runs.start_in_process(config.to_dict(), experiment_run_id(config), args.out)
    with recorded(run):
        results = train_here(args, config, run.run_dir)
    store.record_status(run.run_dir, "completed", results["target"]["verdict"])
    return 0


def experiment_run_id(config):
    from core import experiment

    return experiment.make_run_id(config)


def run_script_here(args, spec):
    """`portability run --script`: the user's own experiment, unmodified, here; recorded like every run."""
    from core import script

    checked = script.check(spec)  # bad input: refused before a run folder exists
    quiet_tensorflow(args.verbose)
    run = runs.start_in_process(checked.config(), checked.run_id(), args.out)
    log = (lambda message: None) if args.quiet else say
    with recorded(run):
        results = script.run(spec, run.run_dir, log=log, data_dir=args.data_dir)
    print(summary_line(results))
    print(f"run folder: {run.run_dir}")
    store.record_status(run.run_dir, "completed", results["target"]["verdict"])
    return 0


@contextlib.contextmanager
def recorded(run):
    """A run that ends in an error or an interrupt is recorded failed, with the reason."""
    try:
        yield
    except BaseException as error:
        reason = "interrupted" if isinstance(error, KeyboardInterrupt) else str(error).splitlines()[0][:400] or type(error).__name__
        store.record_status(run.run_dir, "failed", reason)
        raise


def train_here(args, config, run_dir):
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
    for name, values in core.config.PRESETS.items():
        options = ", ".join(f"{k}={v}" for k, v in values.items() if k != "description")
        print(f"{name}\n  {values['description']}\n  {options}")
    return 0


def _dataset_names(name):
    if name is None:
        return list(core.config.BUILTIN_DATASETS)
    if name not in core.config.BUILTIN_DATASETS:
        raise UsageError(f"unknown dataset {name!r}: valid ones are {', '.join(core.config.BUILTIN_DATASETS)}")
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


def command_verify(args):
    run_dir = pathlib.Path(args.run_dir)
    path = run_dir / "results.json" if run_dir.is_dir() else run_dir
    try:
        results = results_file.read_json(path)
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read {path}: {error}; pass a run folder that holds results.json") from None
    issues = results_file.problems(results)
    if issues:
        raise UserError(f"{path} does not follow the results schema: {'; '.join(issues)}")
    reference_path = verify.find_reference(results, REFERENCE_DIR, args.reference)
    reference = verify.read_reference(reference_path)
    rows = verify.compare_with_reference(results, reference, args.tolerance)
    print(f"run {path} against reference {reference_path}:")
    for check, ok, detail in rows:
        print(f"  {'OK  ' if ok else 'FAIL'} {check}: {detail}")
    return 0 if all(ok for _, ok, _ in rows) else 1


def command_notebook(args):
    """`portability notebook`: the experiment as a self-contained Jupyter notebook."""
    import adapters
    from adapters import notebook

    config = arguments.config_from_args(args)
    target = pathlib.Path(args.out)
    if target.exists() and not args.force:
        raise UsageError(f"{target} exists: choose another --out, or pass --force to replace it")
    finished = [name for name in ("results.json", "model.h5", "model.keras") if (target.parent / "output" / name).exists()]
    if args.execute and finished:  # a run's results are never overwritten, as for `run --out`
        raise UsageError(f"{target.parent / 'output'} already holds a run's {', '.join(finished)}: give --out a "
                         "notebook in another folder, or move that output away; nothing was written")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(notebook.for_platform("local", {}, adapters.get("local").bundle_config(config)))
    print(f"wrote {target}: open it in Jupyter, or run it with `jupyter execute {target}`")
    if args.execute:
        quiet_tensorflow(False)  # the kernel writes to this stderr: TensorFlow's native lines dropped
        try:
            notebook.execute(target, target.parent, executed=target)
        except Exception as error:  # nbclient's error names the cell; the notebook keeps its outputs
            raise UserError(f"a cell of {target} failed (its outputs are in the notebook):\n"
                            + re.sub(r"\x1b\[[0-9;]*m", "", str(error))[-1500:]) from None
        print(f"ran every cell; results in {target.parent / 'output'}")
    return 0


def _tolerance(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number: give an accuracy difference such as 0.01") from None
    if not 0 <= value <= 1:  # NaN fails this too
        cause = "negative" if value < 0 else "above 1" if value > 1 else "not a number"
        raise argparse.ArgumentTypeError(f"{text} is {cause}: the tolerance is an allowed difference of test accuracy "
                                         "from 0 to 1 (0.01 = 1 point)")
    return value


def add_commands(commands):
    from portability import sweep_commands

    run = commands.add_parser("run", help="train and evaluate the experiment here")
    arguments.add_config_options(run)
    run.add_argument("--data-dir", help="a folder holding the four IDX files of the built-in data set")
    run.add_argument("--out", help="the run folder (default results/runs/local/<run-id>)")
    run.add_argument("--quiet", action="store_true", help="print only the result line")
    run.add_argument("--verbose", action="store_true", help="also show TensorFlow's own log lines")
    arguments.add_script_options(run)
    sweep_commands.add_sweep_options(run, with_seeds=True)
    run.set_defaults(handler=command_run)

    commands.add_parser("models", help="list the models with their parameter counts").set_defaults(handler=command_models)
    commands.add_parser("presets", help="list the presets").set_defaults(handler=command_presets)

    data = commands.add_parser("data", help="fetch or verify the built-in data sets")
    data_commands = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    fetch = data_commands.add_parser("fetch", help="find or download the data set and verify it")
    fetch.add_argument("name", nargs="?", help=f"one of {', '.join(core.config.BUILTIN_DATASETS)} (default: all)")
    fetch.add_argument("--quiet", action="store_true")
    fetch.set_defaults(handler=command_data_fetch)
    verify_data = data_commands.add_parser("verify", help="check every data file against its SHA-256")
    verify_data.add_argument("name", nargs="?")
    verify_data.add_argument("--data-dir", help="check this folder instead of the cache and system folders")
    verify_data.set_defaults(handler=command_data_verify)

    check = commands.add_parser("verify", help="compare a run with the committed reference result")
    check.add_argument("run_dir", metavar="RUN_DIR")
    check.add_argument("--reference", help="a reference results.json (default: the preset's, under results/reference/)")
    check.add_argument("--tolerance", type=_tolerance, default=verify.TOLERANCE,
                       help="allowed test accuracy difference, 0 to 1 (default %(default)s)")
    check.set_defaults(handler=command_verify)

    notebook = commands.add_parser("notebook", help="write the experiment as a self-contained Jupyter notebook")
    notebook.add_argument("--out", default="experiment.ipynb", help="the notebook file (default %(default)s)")
    notebook.add_argument("--force", action="store_true", help="replace --out if it exists")
    notebook.add_argument("--execute", action="store_true", help="also run every cell here (results in output/ beside it)")
    arguments.add_config_options(notebook)
    notebook.set_defaults(handler=command_notebook)
