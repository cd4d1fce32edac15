"""`portability sweep GRID`, and `run/push --seeds`: the cells of a grid on Dask, then the verdict."""

import argparse
import math
import pathlib
import re
import sys

from core.errors import UsageError


def command_sweep(args):
    """`portability sweep GRID`: every cell of a grid; the verdict at the end."""
    from portability import grid

    return run_sweep(grid.load(args.grid, quick=args.quick, platforms=args.platforms or None), args)


def sweep_seeds(config, seeds, platforms, args, platform_options=None):
    """`run --seeds 1-5`, `push PLATFORM --seeds 1-5`: a sweep over seeds of one config, or of your own
    script (a ScriptSpec, or the ScriptExperiment of a platform command): the script once per seed; each
    platform's cells with its `platform_options` (the flags and the config file's)."""
    from portability import grid, own_sweep

    spec = getattr(config, "spec", config)
    if own_sweep.is_spec(spec):
        values, name = own_sweep.base_of(spec), f"seeds-{own_sweep.label(spec)}"
    else:
        values = {k: v for k, v in config.to_dict().items() if k != "seed" and v is not None}
        name = f"seeds-{experiment_label(config)}"
    return run_sweep(grid.make(name, values, {"seed": grid.parse_seeds(seeds)}, platforms,
                               margin=grid.DEFAULT_MARGIN if args.margin is None else args.margin,
                               platform_options=platform_options), args)


def experiment_label(config):
    return (config.preset or f"{pathlib.Path(config.dataset).name}-{config.model}").replace(".", "-")


def run_sweep(the_grid, args):
    from portability import sweep
    from report import sweeps

    if args.margin is not None and args.margin != the_grid.margin:
        the_grid.margin = args.margin  # checked by its argument type
    threads = _threads(args.threads)
    if getattr(args, "dry_run", False):
        print(sweep.describe_plan(the_grid, threads, args.workers))
        return 0
    data, folder = sweep.run(the_grid, threads=threads, workers=args.workers, scheduler=args.scheduler,
                             timeout=args.timeout, fresh=getattr(args, "fresh_processes", False),
                             dashboard=getattr(args, "dashboard", False))
    print(sweep.summary(data))
    section = sweeps.section(data, folder, sweep.runs_root())
    for problem in section["problems"]:
        print(f"problem: {problem}", file=sys.stderr)
    if section["rows"]:
        print("\n" + " | ".join(sweeps.COLUMNS))
        for cells in sweeps.table(section):
            print(" | ".join(cells))
    print(f"sweep folder: {folder}; `portability report` adds it to the report")
    return 1 if any(cell["state"] != "done" for cell in data["cells"].values()) else 0


def _threads(value):
    if value < 1:
        raise UsageError(f"--threads must be >= 1, got {value}")
    return value


def _margin(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number: give a fraction of accuracy such as 0.003") from None
    if not math.isfinite(value) or not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a fraction of accuracy in (0, 1): 0.003 is 0.3 points")
    return value


def _workers(text):
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of worker processes >= 1")
    return int(text)


def _scheduler(text):
    """A Dask scheduler address: tcp:// (or tls://, ucx://, ws://, wss://), or HOST:PORT."""
    if re.fullmatch(r"(tcp|tls|ucx|ws|wss)://[^/\s]+", text) or re.fullmatch(r"[\w.\-\[\]:]+:\d+", text):
        return text
    raise argparse.ArgumentTypeError(f"{text!r} is not a Dask scheduler address: give tcp://HOST:8786 "
                                     "(`dask scheduler` prints it), not a web address")


def add_sweep_options(parser, with_seeds=False):
    if with_seeds:
        parser.add_argument("--seeds", help="replicate over seeds (1-5, 1,2,7 or 1-3,10): a sweep, with its verdict")
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow threads per cell computed here "
                        "(default 1; the count changes the weights, and is recorded)")
    parser.add_argument("--workers", type=_workers, help="Dask worker processes here, >= 1 (default: cores / threads)")
    parser.add_argument("--scheduler", metavar="ADDRESS", type=_scheduler, help="an existing Dask scheduler "
                        "(tcp://HOST:8786) instead of a cluster on this machine")
    parser.add_argument("--dashboard", action="store_true", help="serve Dask's dashboard on a free port of 127.0.0.1 "
                        "while the cells run (off by default: it costs the sweep about 0.5 s of start-up)")
    parser.add_argument("--fresh-processes", action="store_true", help="train each local cell in a fresh Python "
                        "process (default: in the warm Dask worker, TensorFlow and data loaded once; same weights)")
    parser.add_argument("--margin", type=_margin, help="equivalence margin as a fraction of accuracy in (0, 1) "
                        "(default: the grid's, else 0.003 = 0.3 points)")


def add_commands(commands):
    sweep = commands.add_parser("sweep", help="run every cell of a grid (seeds x configs x platforms) on Dask, "
                                "then the statistical verdict")
    sweep.add_argument("grid", metavar="GRID", help="a grid file (YAML or JSON), or a shipped grid: seeds, vgg-augmentation")
    sweep.add_argument("--quick", action="store_true", help="the grid's laptop scale (its `quick` section)")
    sweep.add_argument("--dry-run", action="store_true", help="list the cells, which are complete and what each costs")
    sweep.add_argument("--platforms", nargs="+", metavar="PLATFORM", help="replace the grid's platforms")
    sweep.add_argument("--timeout", type=float, default=3600, help="seconds to wait for each platform cell")
    add_sweep_options(sweep)
    sweep.set_defaults(handler=command_sweep)
