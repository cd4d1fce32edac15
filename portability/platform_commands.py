"""Commands about platforms: platforms, package, emulate, push, status, pull, setup. Nothing here
names a platform: each adapter declares its own flags and notes."""

import os
import pathlib
import shutil
import tempfile

import adapters
from adapters import bundle
from core.errors import UsageError, UserError
from core.results import summary_line
from portability import arguments, runs, store
from portability.console import say


def missing_for(adapter):
    """What the platform still needs before a push (SDK, credentials, engine); [] when it is ready."""
    try:
        return adapter.missing()
    except UserError as error:
        return [str(error)]


def command_platforms(args):
    if args.online:
        return platforms_online()
    for name in adapters.names():
        adapter = adapters.get(name)
        missing = missing_for(adapter)
        note = adapter.mode_note() if not missing else ""
        print(f"{name:<8} {'ready' if not missing else 'not ready'}{', ' + note if note else ''}")
        print(f"         tested against: {adapters.tested_against(name)}")
        for item in missing:
            print(f"         - {item}")
    return 0


def platforms_online():
    """One line per platform: its credentials work (one cheap read-only call), or its refusal; 1 when any
    platform refused or did not answer. A platform that is not ready is not asked."""
    verdicts = {False: "FAILED: ", None: "not checked: "}  # a working one's line says what worked
    failed = False
    for name in adapters.names():
        adapter = adapters.get(name)
        missing = missing_for(adapter)
        works, text = (None, f"not ready: {missing[0]}") if missing else adapter.check_online()
        print(f"{name:<8} {verdicts.get(works, '')}{text}", flush=True)
        failed = failed or works is False
    return 1 if failed else 0


def command_package(args):
    if bool(args.all) == bool(args.platform):
        raise UsageError(f"name a platform ({', '.join(adapters.names())}) or pass --all, not both")
    names = adapters.names() if args.all else [args.platform]
    chosen = arguments.platform_options(args, names)
    config = arguments.experiment_from_args(args)
    if getattr(config, "own_experiment", False) and not args.out:
        raise UsageError("packaging your own script needs --out DIR (platforms/ holds the built-in experiment's files)")
    for name in names:
        adapter = adapters.get(name, **chosen.get(name, {}))
        if args.out:
            target = pathlib.Path(args.out) / name if args.all else pathlib.Path(args.out)
            digest = package_into(adapter, config, target, args.force)
            print(f"{name}: bundle in {target} (hash {digest[:12]})")
        else:
            target = store.ROOT / "platforms" / adapter.generated_folder()
            write_generated(adapter, config, target)
            print(f"{name}: generated files in {target.relative_to(store.ROOT)}")
    return 0


def package_into(adapter, config, target, force):
    """Package once into a fresh folder beside `target`, then put it in place. A bundle folder is
    replaced whole: one that holds anything else is refused, unless --force. Returns the bundle hash."""
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} is a file: name a folder for the bundle")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as tmp:
        fresh = pathlib.Path(tmp) / "bundle"
        digest = adapter.package(config, fresh)
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


def write_generated(adapter, config, target):
    """platforms/<name>/: exactly the generated files of the bundle (the core is copied at push); no
    user's name or settings, whatever the environment."""
    if target.exists():
        shutil.rmtree(target)
    adapter.for_repository = True
    bundle.write(target, adapter.render(config))


def command_emulate(args):
    adapter = arguments.adapter_for(args.platform, args)
    config = arguments.experiment_from_args(args)
    script = getattr(config, "own_experiment", False)  # its items are bound where the platform puts them
    run = runs.push(adapter, config, force=args.force, mode="emulated", log=say,
                    data_dir=None if script else adapter.emulation_data(config))
    return finish(run, wait=True)


def command_push(args):
    if bool(args.all) == bool(args.platforms):
        raise UsageError(f"name platforms ({', '.join(adapters.names())}) or pass --all, not both")
    for name in args.platforms:
        adapters.adapter_class(name)  # an unknown name stops everything before anything is sent
    names = args.platforms or adapters.names()
    chosen = arguments.platform_options(args, args.platforms)
    config = arguments.experiment_from_args(args)
    if args.seeds is not None:
        from portability import sweep_commands

        return sweep_commands.sweep_seeds(config, args.seeds, "ready" if args.all else args.platforms, args, chosen)
    if len(args.platforms) == 1:
        return push_one(adapters.get(names[0], **chosen.get(names[0], {})), config, args)
    return push_many([adapters.get(name, **chosen.get(name, {})) for name in names], config, args)


def push_one(adapter, config, args):
    if getattr(config, "own_experiment", False):
        from adapters import own_platforms

        if not own_platforms.of(adapter).pushable:
            raise UsageError(f"push {adapter.name} --script: not yet (`portability emulate {adapter.name} --script ...` "
                             "runs the same bundle here)")
    if not args.dry_run and not adapter.missing():
        note = adapter.before_push(store.all_runs(adapter.name), log=say)
        if note:
            say(note)
    run = runs.push(adapter, config, force=args.force, dry_run=args.dry_run, log=say)
    if run is None:
        return 0
    return finish(run, wait=args.wait, timeout=args.timeout)


def push_many(platform_adapters, config, args):
    """Each platform in turn; one that fails does not stop the others. With --all, a platform that is
    not ready (no credentials, no engine) is skipped and says what it needs; one named explicitly fails."""
    outcomes = {}
    for adapter in platform_adapters:
        name = adapter.name
        if args.all and not args.dry_run:
            missing = missing_for(adapter)
            if missing:
                outcomes[name] = "skipped: " + "; ".join(missing)
                say(f"{name}: skipped, not ready: {'; '.join(missing)}")
                continue
        say(f"== {name}")
        try:
            code = push_one(adapter, config, args)
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


def finish(run, wait, timeout=3600):
    print(f"run: {run.name} ({run.run_dir})")
    note = run.adapter.after_push_note(run.handle, run.run_dir)
    if note:
        print(note)
    if not wait:
        print(f"follow it with `portability status {run.name}`, then `portability pull {run.name}`")
        return 0
    state = run.wait(timeout=timeout)
    results = run.pull()
    label = run.adapter.how_it_ran(results["platform"], results["platform"]["obtained"])
    print(f"[{label or results['platform']['obtained'] + ' on ' + run.handle.platform}] {summary_line(results)}")
    return 0 if state == "completed" or state == "pulled" else 1


def command_status(args):
    selected, damaged = ([runs.find(args.run)], []) if args.run else _scan()
    if not selected and not damaged:
        print(f"no runs yet in {store.runs_root()}")
    for run in selected:
        try:
            state = run.status()
            state += f" ({state.detail})" if getattr(state, "detail", None) else ""  # the platform's words
        except UserError as error:
            state = f"unknown ({error})"
        except (OSError, ValueError, KeyError, TypeError, IndexError) as error:
            state = f"unknown (unreadable run folder: {type(error).__name__}: {error})"
        if state == "submitting":
            state += " (not submitted yet, or its push stopped: the same `portability push` resumes it)"
        print(f"{run.name:<60} {run.handle.mode:<9} {state}")
    for run_dir, problem in damaged:
        say(f"problem: {run_dir.parent.name}/{run_dir.name}: {problem}")
    return 0


def _scan():
    found, damaged = store.scan()
    return [runs.Run(handle, run_dir) for handle, run_dir in found], damaged


def command_pull(args):
    if not args.all and not args.run:
        raise UsageError("name a run (see `portability status`) or pass --all")
    selected = runs.all_in_store() if args.all else [runs.find(args.run)]
    failures = 0
    for run in selected:
        try:
            results = run.pull()
            label = run.adapter.how_it_ran(results["platform"], results["platform"]["obtained"])
            print(f"{run.name}: [{label or results['platform']['obtained']}] {summary_line(results)}")
        except UserError as error:
            failures += 1
            say(f"{run.name}: {error}")
    return 1 if failures else 0


def command_setup(args):
    adapters.get(args.platform).setup(log=say)
    return 0


def add_commands(commands):
    platforms = adapters.names()
    listing = commands.add_parser("platforms", help="each platform: ready, or what is missing")
    listing.add_argument("--online", action="store_true", help="ask each ready platform, with your credentials, one "
                         "cheap read-only question (about 10 s at most each; nothing is created): one line each, "
                         "saying they work or quoting the platform's refusal. Exit status 1 when any platform "
                         "refused the credentials or did not answer")
    listing.set_defaults(handler=command_platforms)

    package = commands.add_parser("package", help="build a platform's bundle (offline)")
    package.add_argument("platform", nargs="?", choices=platforms)
    package.add_argument("--all", action="store_true", help="every platform")
    package.add_argument("--out", help="write the whole bundle here (default: the generated files to platforms/<name>/)")
    package.add_argument("--force", action="store_true", help="replace --out even if it holds other files")
    arguments.add_config_options(package)
    arguments.add_platform_flags(package)
    arguments.add_script_options(package)
    package.set_defaults(handler=command_package)

    emulate = commands.add_parser("emulate", help="run a platform's bundle in a local emulation of its runtime")
    emulate.add_argument("platform", choices=platforms)
    emulate.add_argument("--force", action="store_true", help="run again even if this bundle already ran")
    arguments.add_config_options(emulate)
    arguments.add_platform_flags(emulate)
    arguments.add_script_options(emulate)
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
    from portability import sweep_commands

    push = commands.add_parser("push", help="submit the experiment to one or more platforms")
    push.add_argument("platforms", nargs="*", metavar="platform", help=f"one or more of {', '.join(platforms)}")
    push.add_argument("--all", action="store_true", help="every platform that is ready (the others are skipped, "
                      "saying what they need)")
    push.add_argument("--dry-run", action="store_true", help="print what would be sent, send nothing")
    push.add_argument("--force", action="store_true", help="a new platform run even if this bundle was pushed")
    push.add_argument("--wait", action="store_true", help="follow the run to its end and pull the results")
    push.add_argument("--timeout", type=float, default=3600, help="seconds --wait waits (default %(default)s)")
    arguments.add_config_options(push)
    arguments.add_platform_flags(push)
    arguments.add_script_options(push)
    sweep_commands.add_sweep_options(push, with_seeds=True)
    push.set_defaults(handler=command_push)
