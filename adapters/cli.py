"""`portability`: the core commands plus the platform commands (platforms, package, emulate, push,
status, pull). This is the installed console entry point."""

import os
import pathlib
import re
import shutil
import sys
import tempfile

import adapters
from adapters import bundle, runs, store
from adapters.bundle import ROOT
from core import cli as core_cli
from core.errors import UsageError, UserError

say = core_cli.say


def missing_for(name):
    """What the platform still needs before a push (SDK, credentials, engine); [] when it is ready."""
    try:
        return adapters.get(name).check()
    except UserError as error:
        return [str(error)]


def command_platforms(args):
    for name in adapters.names():
        missing = missing_for(name)
        note = adapters.get(name).mode_note() if not missing else ""
        print(f"{name:<8} {'ready' if not missing else 'not ready'}{', ' + note if note else ''}")
        for item in missing:
            print(f"         - {item}")
    return 0


# a config file's `platform_options:` -> the variables the adapters read (a command-line flag wins)
PLATFORM_OPTIONS = {("kaggle", "kernel_type"): "PORTABILITY_KAGGLE_KERNEL_TYPE",
                    ("kaggle", "accelerator"): "PORTABILITY_KAGGLE_ACCELERATOR",
                    ("docker", "jupyter"): "PORTABILITY_DOCKER_JUPYTER"}


def _settings(args):
    if args.preset is None and args.config is None and args.dataset is None:
        args.preset = "mnist-reference"
    if args.config:
        platform_options(args.config)
    return core_cli.config_from_args(args)


def platform_options(path):
    """`platform_options: {kaggle: {kernel_type: notebook}}` in a config file: how a platform packages
    the run (not part of the experiment, so not in its config or its hashes)."""
    from core import config as configuration

    options = configuration.read_config_file(path).get(configuration.PLATFORM_OPTIONS) or {}
    valid = ", ".join(f"{platform}.{key}" for platform, key in PLATFORM_OPTIONS)
    if not isinstance(options, dict) or not all(isinstance(v, dict) for v in options.values()):
        raise UsageError(f"config file {path}: platform_options maps a platform to its options ({valid})")
    for platform, values in options.items():
        for key, value in values.items():
            if (platform, key) not in PLATFORM_OPTIONS:
                raise UsageError(f"config file {path}: unknown platform option {platform}.{key}: valid ones are {valid}")
            variable = PLATFORM_OPTIONS[(platform, key)]
            os.environ.setdefault(variable, ("1" if value else "0") if isinstance(value, bool) else str(value))


def command_package(args):
    names = adapters.names() if args.all else [args.platform]
    if bool(args.all) == bool(args.platform):
        raise UsageError(f"name a platform ({', '.join(adapters.names())}) or pass --all, not both")
    _flag_options(args, names)
    settings = _settings(args)
    for name in names:
        adapter = adapters.get(name)
        if args.out:
            target = pathlib.Path(args.out) / name if args.all else pathlib.Path(args.out)
            digest = package_into(adapter, settings, target, args.force)
            print(f"{name}: bundle in {target} (hash {digest[:12]})")
        else:
            form = "-notebook" if name == "kaggle" and adapter.kernel_type == "notebook" else ""
            target = ROOT / "platforms" / f"{name}{form}"
            write_generated(adapter, settings, target)
            print(f"{name}: generated files in {target.relative_to(ROOT)}")
    return 0


def package_into(adapter, settings, target, force):
    """Package once into a fresh folder beside `target`, then put it in place. A bundle folder is
    replaced whole: one that holds anything else is refused, unless --force. Returns the bundle hash."""
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} is a file: name a folder for the bundle")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as tmp:
        fresh = pathlib.Path(tmp) / "bundle"
        digest = adapter.package(settings, fresh)
        if target.exists():
            expected = {str(p.relative_to(fresh)) for p in fresh.rglob("*")}
            foreign = sorted(str(p.relative_to(target)) for p in target.rglob("*") if str(p.relative_to(target)) not in expected)
            if foreign and not force:
                raise UsageError(f"{target} holds files that are not part of a {adapter.name} bundle ({', '.join(foreign[:5])}"
                                 f"{', ...' if len(foreign) > 5 else ''}): packaging would remove them. Choose an empty "
                                 "folder, or pass --force to replace it")
            shutil.rmtree(target)
        os.replace(fresh, target)
    return digest


def write_generated(adapter, settings, target):
    """platforms/<name>/: exactly the generated files of the bundle (the core is copied at push); no
    user's name or settings, whatever the environment."""
    if target.exists():
        shutil.rmtree(target)
    adapter.for_repository = True
    bundle.write(target, adapter.render(settings))


FLAG_OPTIONS = (("kernel_type", "--kernel-type", ("kaggle", "kernel_type")),  # Kaggle's notebook kernel
                ("jupyter", "--jupyter", ("docker", "jupyter")))  # JupyterLab in the experiment's image


def _flag_options(args, platforms):
    """--kernel-type and --jupyter: the variables of a config file's platform_options (the flag wins),
    each for its one platform."""
    for attribute, flag, (platform, key) in FLAG_OPTIONS:
        value = getattr(args, attribute, None)
        if value:
            if list(platforms) != [platform]:
                raise UsageError(f"{flag} is {platform.capitalize()}'s: use it with the {platform} platform alone")
            os.environ[PLATFORM_OPTIONS[(platform, key)]] = "1" if value is True else value


def command_notebook(args):
    """`portability notebook`: the experiment as a self-contained Jupyter notebook."""
    from adapters import notebook

    settings = _settings(args)
    target = pathlib.Path(args.out)
    if target.exists() and not args.force:
        raise UsageError(f"{target} exists: choose another --out, or pass --force to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(notebook.for_platform("local", {}, adapters.get("local").bundle_config(settings)))
    print(f"wrote {target}: open it in Jupyter, or run it with `jupyter execute {target}`")
    if args.execute:
        core_cli.quiet_tensorflow(False)  # the kernel writes to this stderr: TensorFlow's native lines dropped
        try:
            notebook.execute(target, target.parent, executed=target)
        except Exception as error:  # nbclient's error names the cell; the notebook keeps its outputs
            raise UserError(f"a cell of {target} failed (its outputs are in the notebook):\n"
                            + re.sub(r"\x1b\[[0-9;]*m", "", str(error))[-1500:]) from None
        print(f"ran every cell; results in {target.parent / 'output'}")
    return 0


def command_emulate(args):
    _flag_options(args, [args.platform])
    settings = _settings(args)
    adapter = adapters.get(args.platform)
    handle, run_dir = runs.push(args.platform, settings, force=args.force, mode="emulated", log=say,
                                data_dir=adapter.emulation_data(settings))
    return _finish(handle, run_dir, wait=True)


def command_push(args):
    if bool(args.all) == bool(args.platforms):
        raise UsageError(f"name platforms ({', '.join(adapters.names())}) or pass --all, not both")
    for name in args.platforms:
        adapters.get(name)  # an unknown name stops everything before anything is sent
    _flag_options(args, args.platforms)
    settings = _settings(args)
    if args.seeds:
        return _sweep_seeds(settings, args.seeds, "ready" if args.all else args.platforms, args)
    if len(args.platforms) == 1:
        return _push_one(args.platforms[0], settings, args)
    return _push_many(args.platforms or adapters.names(), settings, args)


def _push_one(platform, settings, args):
    adapter = adapters.get(platform)
    if not args.dry_run and not adapter.check():
        note = adapter.before_push(store.all_runs(platform), log=say)
        if note:
            say(note)
    handle, run_dir = runs.push(platform, settings, force=args.force, dry_run=args.dry_run, log=say)
    if handle is None:
        return 0
    return _finish(handle, run_dir, wait=args.wait, timeout=args.timeout)


def _push_many(platforms, settings, args):
    """Each platform in turn; one that fails does not stop the others. With --all, a platform that is
    not ready (no credentials, no engine) is skipped and says what it needs; one named explicitly fails."""
    outcomes = {}
    for name in platforms:
        if args.all and not args.dry_run:
            missing = missing_for(name)
            if missing:
                outcomes[name] = "skipped: " + "; ".join(missing)
                say(f"{name}: skipped, not ready: {'; '.join(missing)}")
                continue
        say(f"== {name}")
        try:
            code = _push_one(name, settings, args)
            done = "dry run: nothing sent" if args.dry_run else "completed" if args.wait else "pushed"
            outcomes[name] = done if code == 0 else "failed (see above)"
        except UserError as error:
            say(f"error: {name}: {error}")
            outcomes[name] = f"failed: {str(error).splitlines()[0]}"
    print("push summary:")
    for name, outcome in outcomes.items():
        print(f"  {name:<8} {outcome}")
    if any(outcome.startswith("failed") for outcome in outcomes.values()):
        return 1
    if all(outcome.startswith("skipped") for outcome in outcomes.values()):
        say("error: no platform is ready: `portability platforms` says what each one needs")
        return 1
    return 0


def _finish(handle, run_dir, wait, timeout=3600):
    print(f"run: {handle.platform}/{handle.run_id} ({run_dir})")
    if handle.details.get("jupyter_url"):
        print(f"JupyterLab: {adapters.get('docker').jupyter_url(handle, run_dir)}\n"
              "  run the notebook's cells there; `portability pull` collects its results; "
              f"stop the server with `docker stop {handle.remote_id}`")
    if not wait:
        print(f"follow it with `portability status {handle.platform}/{handle.run_id}`, "
              f"then `portability pull {handle.platform}/{handle.run_id}`")
        return 0
    state = runs.wait(handle, run_dir, timeout=timeout)
    results = runs.pull(handle, run_dir)
    print(f"[{results['platform']['obtained']} on {handle.platform}] {core_cli.summary_line(results)}")
    return 0 if state == "completed" or state == "pulled" else 1


def command_status(args):
    selected, damaged = ([store.resolve(args.run)], []) if args.run else store.scan()
    if not selected and not damaged:
        print(f"no runs yet in {store.runs_root()}")
    for handle, run_dir in selected:
        try:
            state = runs.status(handle, run_dir)
            state += f" ({state.detail})" if getattr(state, "detail", None) else ""  # the platform's words
        except UserError as error:
            state = f"unknown ({error})"
        except (OSError, ValueError, KeyError, TypeError, IndexError) as error:
            state = f"unknown (unreadable run folder: {type(error).__name__}: {error})"
        print(f"{handle.platform + '/' + handle.run_id:<60} {handle.mode:<9} {state}")
    for run_dir, problem in damaged:
        say(f"problem: {run_dir.parent.name}/{run_dir.name}: {problem}")
    return 0


def command_pull(args):
    if not args.all and not args.run:
        raise UsageError("name a run (see `portability status`) or pass --all")
    selected = store.all_runs() if args.all else [store.resolve(args.run)]
    failures = 0
    for handle, run_dir in selected:
        try:
            results = runs.pull(handle, run_dir)
            print(f"{handle.platform}/{handle.run_id}: [{results['platform']['obtained']}] "
                  f"{core_cli.summary_line(results)}")
        except UserError as error:
            failures += 1
            say(f"{handle.platform}/{handle.run_id}: {error}")
    return 1 if failures else 0


def command_report(args):
    import report

    data = report.build(args.out)
    out = pathlib.Path(args.out or ROOT / "results")
    print(f"wrote {out / 'report.md'} and {out / 'report.html'}")
    width = max(len(row["obtained"]) for row in data["rows"])
    for cells in data["cells"]:
        print(f"  {cells[0]:<8} {cells[1]:<{width}} {cells[6]:>8} {cells[8]:<5} {cells[9]}")
    for problem in data["problems"]:
        say(f"problem: {problem}")
    failing = report.failing_rows(data)
    if args.fail_under and failing:
        say("below target: " + ", ".join(f"{row['platform']} ({row['accuracy']:.4f} < {row['target']})" for row in failing))
        return 1
    return 0


def command_diff(args):
    from report import codediff

    if args.platform == "local":
        raise UsageError("local is the baseline of every diff: name another platform")
    for name in ("local", args.platform):
        if not codediff.generated(name):
            raise UserError(f"platforms/{name} has no generated files: run `portability package {name}`")
    diff = codediff.platform_diff(args.platform)
    print("\n".join(diff["diff"]))
    print("\nchanged lines: " + ", ".join(f"{group} {count}" for group, count in diff["counts"].items())
          + (f"; core embedded verbatim: {diff['embedded_core_lines']} lines" if diff["embedded_core_lines"] else ""))
    return 0


def command_docs(args):
    from report import docs

    stale = docs.write_all(check_only=args.check)
    for path in stale:
        print(f"{'stale' if args.check else 'wrote'} {path.relative_to(ROOT)}")
    return 1 if args.check and stale else 0


def command_setup(args):
    adapters.get(args.platform).setup(log=say)
    return 0


def command_sweep(args):
    """`portability sweep GRID`: every cell of a grid; the verdict at the end."""
    from adapters import grid

    return _sweep(grid.load(args.grid, quick=args.quick, platforms=args.platforms or None), args)


def _sweep_seeds(settings, seeds, platforms, args):
    """`run --seeds 1-5`, `push PLATFORM --seeds 1-5`: a sweep over seeds of one config."""
    from adapters import grid

    values = {k: v for k, v in settings.to_dict().items() if k != "seed" and v is not None}
    name = f"seeds-{experiment_label(settings)}"
    return _sweep(grid.make(name, values, {"seed": grid.parse_seeds(seeds)}, platforms,
                            margin=grid.DEFAULT_MARGIN if args.margin is None else args.margin), args)


def experiment_label(settings):
    return (settings.preset or f"{pathlib.Path(settings.dataset).name}-{settings.model}").replace(".", "-")


def _sweep(the_grid, args):
    from adapters import sweep
    from report import sweeps

    if args.margin is not None and args.margin != the_grid.margin:
        the_grid.margin = args.margin
    threads = _threads(args.threads)
    if getattr(args, "dry_run", False):
        print(sweep.describe_plan(the_grid, threads, args.workers))
        return 0
    data = sweep.run(the_grid, threads=threads, workers=args.workers, scheduler=args.scheduler, timeout=args.timeout)
    print(sweep.summary(data))
    section = sweeps.section(data, sweep.folder_for(the_grid, the_grid.cells(threads)))
    if section["rows"]:
        print("\n" + " | ".join(sweeps.COLUMNS))
        for cells in sweeps.table(section):
            print(" | ".join(cells))
    print(f"sweep folder: {sweep.folder_for(the_grid, the_grid.cells(threads))}; `portability report` adds it to the report")
    return 1 if any(cell["state"] != "done" for cell in data["cells"].values()) else 0


def _threads(value):
    if value < 1:
        raise UsageError(f"--threads must be >= 1, got {value}")
    return value


def add_sweep_options(parser, with_seeds=False):
    if with_seeds:
        parser.add_argument("--seeds", help="replicate over seeds (1-5, 1,2,7 or 1-3,10): a sweep, with its verdict")
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow threads per cell computed here "
                        "(default 1; the count changes the weights, and is recorded)")
    parser.add_argument("--workers", type=int, help="Dask worker processes here (default: cores / threads)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="an existing Dask scheduler (tcp://HOST:8786) "
                        "instead of a cluster on this machine")
    parser.add_argument("--margin", type=float, help="equivalence margin as a fraction of accuracy "
                        "(default: the grid's, else 0.003 = 0.3 points)")


def command_run(args):
    """`portability run`: trains here, in this process, and records the run like every push."""
    settings = core_cli.config_from_args(args)
    if args.seeds:
        args.timeout = 3600
        return _sweep_seeds(settings, args.seeds, ["local"], args)
    core_cli.quiet_tensorflow(args.verbose)
    handle, run_dir = runs.start_in_process(settings, args.out)
    try:
        results = core_cli.run_experiment(args, settings, run_dir)
    except BaseException as error:
        reason = "interrupted" if isinstance(error, KeyboardInterrupt) else str(error).splitlines()[0][:400] or type(error).__name__
        store.record_status(run_dir, "failed", reason)
        raise
    store.record_status(run_dir, "completed", results["target"]["verdict"])
    return 0


def build_parser():
    parser = core_cli.build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    commands.choices["run"].set_defaults(handler=command_run)
    add_sweep_options(commands.choices["run"], with_seeds=True)
    add_platform_commands(commands, adapters.names())
    add_sweep_command(commands)
    add_notebook_command(commands)
    add_comparison_commands(commands, adapters.names())
    return parser


def add_platform_commands(commands, platforms):
    commands.add_parser("platforms", help="each platform: ready, or what is missing").set_defaults(
        handler=command_platforms)

    package = commands.add_parser("package", help="build a platform's bundle (offline)")
    package.add_argument("platform", nargs="?", choices=platforms)
    package.add_argument("--all", action="store_true", help="every platform")
    package.add_argument("--out", help="write the whole bundle here (default: the generated files to platforms/<name>/)")
    package.add_argument("--force", action="store_true", help="replace --out even if it holds other files")
    add_kernel_type(package)
    core_cli.add_config_options(package)
    package.set_defaults(handler=command_package)

    emulate = commands.add_parser("emulate", help="run a platform's bundle in a local emulation of its runtime")
    emulate.add_argument("platform", choices=platforms)
    emulate.add_argument("--force", action="store_true", help="run again even if this bundle already ran")
    add_kernel_type(emulate)
    core_cli.add_config_options(emulate)
    emulate.set_defaults(handler=command_emulate)

    add_push_command(commands, platforms)

    status = commands.add_parser("status", help="the state of one run or of every run")
    status.add_argument("run", nargs="?", metavar="RUN", help="platform/run-id, a run id or a run folder")
    status.set_defaults(handler=command_status)

    pull = commands.add_parser("pull", help="fetch a finished run's results into the run store")
    pull.add_argument("run", nargs="?", metavar="RUN")
    pull.add_argument("--all", action="store_true", help="every run")
    pull.set_defaults(handler=command_pull)

    setup = commands.add_parser("setup", help="prepare this machine for a platform once (docker: the offline "
                                "base image and wheelhouse, for machines without an image registry)")
    setup.add_argument("platform", choices=platforms)
    setup.set_defaults(handler=command_setup)


def add_push_command(commands, platforms):
    push = commands.add_parser("push", help="submit the experiment to one or more platforms")
    push.add_argument("platforms", nargs="*", metavar="platform",
                      help=f"one or more of {', '.join(platforms)}")
    push.add_argument("--all", action="store_true", help="every platform that is ready (the others are skipped, "
                      "saying what they need)")
    push.add_argument("--dry-run", action="store_true", help="print what would be sent, send nothing")
    push.add_argument("--force", action="store_true", help="a new platform run even if this bundle was pushed")
    push.add_argument("--wait", action="store_true", help="follow the run to its end and pull the results")
    push.add_argument("--timeout", type=float, default=3600, help="seconds --wait waits (default %(default)s)")
    add_kernel_type(push)
    push.add_argument("--jupyter", action="store_true", help="Docker only: JupyterLab in the experiment's image with "
                      "the notebook, on a local port with a token (instead of running the script)")
    core_cli.add_config_options(push)
    add_sweep_options(push, with_seeds=True)
    push.set_defaults(handler=command_push)


def add_kernel_type(parser):
    parser.add_argument("--kernel-type", choices=("script", "notebook"),
                        help="Kaggle only: a script kernel (default) or a notebook kernel")


def add_notebook_command(commands):
    notebook = commands.add_parser("notebook", help="write the experiment as a self-contained Jupyter notebook")
    notebook.add_argument("--out", default="experiment.ipynb", help="the notebook file (default %(default)s)")
    notebook.add_argument("--force", action="store_true", help="replace --out if it exists")
    notebook.add_argument("--execute", action="store_true", help="also run every cell here (results in output/ beside it)")
    core_cli.add_config_options(notebook)
    notebook.set_defaults(handler=command_notebook)


def add_sweep_command(commands):
    sweep = commands.add_parser("sweep", help="run every cell of a grid (seeds x configs x platforms) on Dask, "
                                "then the statistical verdict")
    sweep.add_argument("grid", metavar="GRID", help="a grid file (YAML or JSON), or a shipped grid: seeds, vgg-augmentation")
    sweep.add_argument("--quick", action="store_true", help="the grid's laptop scale (its `quick` section)")
    sweep.add_argument("--dry-run", action="store_true", help="list the cells, which are complete and what each costs")
    sweep.add_argument("--platforms", nargs="+", metavar="PLATFORM", help="replace the grid's platforms")
    sweep.add_argument("--timeout", type=float, default=3600, help="seconds to wait for each platform cell")
    add_sweep_options(sweep)
    sweep.set_defaults(handler=command_sweep)


def add_comparison_commands(commands, platforms):
    report = commands.add_parser("report", help="write results/report.md and report.html from the run store")
    report.add_argument("--out", help="folder for the report (default results/)")
    report.add_argument("--fail-under", action="store_true", help="exit 1 when any platform's run misses its target")
    report.set_defaults(handler=command_report)

    diff = commands.add_parser("diff", help="the code a platform needed beyond the local run")
    diff.add_argument("platform", choices=platforms)
    diff.set_defaults(handler=command_diff)

    docs = commands.add_parser("docs", help="regenerate the generated parts of docs/ (code changes, seeds)")
    docs.add_argument("--check", action="store_true", help="only list stale files; exit 1 if any")
    docs.set_defaults(handler=command_docs)


def main(argv=None):
    return core_cli.main(argv, build_parser())


if __name__ == "__main__":
    sys.exit(main())
