"""Commands that compare: report, diff, docs. The report is computed from the runs and sweeps that
the store holds, passed to report/ as data."""

import pathlib

import adapters
from core.errors import UsageError, UserError
from portability import store, sweep
from portability.console import say


def command_report(args):
    import report

    from report import gate

    out = pathlib.Path(args.out or store.ROOT / "results")
    manifests, sweep_problems = sweep.scan_manifests()
    data = report.build(store.runs_root(), manifests, out, problems=sweep_problems)
    print(f"wrote {out / 'report.md'} and {out / 'report.html'}")
    width = max(len(row["obtained"]) for row in data["rows"])
    for cells in data["cells"]:
        print(f"  {cells[0]:<8} {cells[1]:<{width}} {cells[6]:>8} {cells[8]:<5} {cells[9]}")
    for problem in data["problems"]:
        say(f"problem: {problem}")
    if not args.fail_under:
        return 0
    reasons = gate.reasons(store.runs_root(), data, sweep_problems)
    for reason in reasons:
        say(f"gate: {reason}")
    if reasons:
        say(f"report --fail-under: FAIL ({len(reasons)} reason(s) above)")
        return 1
    say("report --fail-under: every platform's latest run and every sweep meet their target")
    return 0


def command_diff(args):
    from report import codediff, diffview

    if args.platform == "local":
        raise UsageError("local is the baseline of every diff: name another platform")
    if args.script:  # your own script: packaged here for local and the platform, then diffed
        return own_diff(args)
    for name in ("local", args.platform):
        if not codediff.generated(name):
            raise UserError(f"platforms/{name} has no generated files: run `portability package {name}`")
    diff = codediff.platform_diff(args.platform)
    if args.unified:
        print("\n".join(diff["diff"]))
    else:
        print("\n".join(diffview.text_view(diff, codediff.GROUPS, codediff.WHY)))
        unchanged = codediff.unchanged_files(diff)
        if unchanged:
            print("unchanged: " + ", ".join(f"{name} ({lines} lines)" for name, lines in unchanged))
    print("\nchanged lines: " + ", ".join(f"{group} {count}" for group, count in diff["counts"].items())
          + (f"; core embedded verbatim: {diff['embedded_core_lines']} lines" if diff["embedded_core_lines"] else ""))
    return 0


def own_experiment(args):
    from portability import arguments

    experiment = arguments.experiment_from_args(args)
    from adapters import own_platforms

    return experiment, [name for name in adapters.names() if name in own_platforms.PLATFORMS]


def own_diff(args):
    from report import own_guide

    experiment, platforms = own_experiment(args)
    if args.platform not in platforms:
        raise UsageError(f"your own script does not run on {args.platform} yet: use one of {', '.join(platforms)}")
    with own_guide.script_diff(args.platform, experiment) as (diff, unchanged):
        print("\n".join(diff["diff"]))
        print("\n" + "\n".join(own_guide.summary(args.platform, experiment, diff, unchanged)))
    return 0


def command_docs(args):
    from report import docs

    if args.script:  # a porting guide for your own experiment
        from report import own_guide

        if not args.out:
            raise UsageError("docs --script writes a porting guide: name its folder with --out DIR")
        experiment, platforms = own_experiment(args)
        for path in own_guide.write_guides(experiment, args.out, platforms):
            print(f"wrote {path}")
        return 0

    stale = docs.write_all(check_only=args.check)
    for path in stale:
        print(f"{'stale' if args.check else 'wrote'} {path.relative_to(store.ROOT)}")
    return 1 if args.check and stale else 0


def add_commands(commands):
    report = commands.add_parser("report", help="write results/report.md and report.html from the run store")
    report.add_argument("--out", help="folder for the report (default results/)")
    from report import gate

    report.add_argument("--fail-under", action="store_true", help=gate.HELP)
    report.set_defaults(handler=command_report)

    diff = commands.add_parser("diff", help="the code a platform needed beyond the local run")
    diff.add_argument("platform", choices=adapters.names())
    diff.add_argument("--unified", action="store_true",
                      help="the plain unified diff of every generated file (default: grouped by what each change is for)")
    add_own_options(diff)
    diff.set_defaults(handler=command_diff)

    docs = commands.add_parser("docs", help="regenerate the generated parts of docs/ (code changes, seeds)")
    docs.add_argument("--check", action="store_true", help="only list stale files; exit 1 if any")
    docs.add_argument("--out", help="with --script: the folder of the porting guide")
    add_own_options(docs)
    docs.set_defaults(handler=command_docs)


def add_own_options(parser):
    """--script/--data/--metric -- ARGS: the diff or the docs of your own experiment."""
    from portability import arguments

    arguments.add_script_options(parser)
    for name in ("config", "seed", "target_accuracy", "dataset", "model", "epochs", "preset"):
        parser.set_defaults(**{name: None})
