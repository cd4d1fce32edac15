"""`portability report --fail-under`: a gate for CI that fails whenever it cannot show success.

It passes only when
  - the run store holds at least one run or sweep (an empty store shows nothing);
  - every platform's latest run (run ids start with their start time; a sweep's cells are judged by
    their sweep instead) has complete results that meet the run's target: a failed run with no
    result, a run still in flight and a damaged one all fail the gate;
  - every platform's row in the report meets its target;
  - every sweep has counted results, and none of its verdict rows falls short of the target (the 95%
    interval of the mean below it) or has a mean below it; a sweep whose manifest is damaged fails.
"""

import pathlib

from core import results as results_file
from report import collect

HELP = ("exit 1, saying why, unless the store holds a run, every platform's latest run has a result that "
        "meets its target, and every sweep's verdict reaches its target (mean and 95%% interval not below it); "
        "an empty store, a failed run without a result or a damaged sweep fails too")


def reasons(runs_root, data, sweep_problems=()):
    """Why the gate fails, one line each; [] when it passes. `data` is report.build's."""
    runs_root = pathlib.Path(runs_root)
    latest = [_latest(folder) for folder in sorted(runs_root.glob("*")) if folder.is_dir() and not folder.name.startswith(("_", "."))]
    latest = [run for run in latest if run is not None]
    if not latest and not data["sweeps"] and not sweep_problems:
        return [f"no run in {runs_root}: nothing shows success; `portability run` or `portability push` first"]
    found = [_run_reason(run, runs_root) for run in latest]
    found += [f"{row['platform']}: the report's row misses its target ({row['accuracy']:.4f} < {row['target']})"
              for row in data["rows"] if row["results"] and row["verdict"] == "fail"]
    for section in data["sweeps"]:
        found += _sweep_reasons(section)
    found += [f"sweep left out: {problem}" for problem in sweep_problems]
    return list(dict.fromkeys(reason for reason in found if reason))


def _latest(platform_folder):
    """The platform's newest run folder that is not a sweep's cell, or None."""
    for folder in sorted((path for path in platform_folder.iterdir() if path.is_dir() and not path.name.startswith(".")),
                         reverse=True):
        try:
            details = results_file.read_json(folder / "handle.json").get("details") or {}
        except (OSError, ValueError, AttributeError):
            details = {}
        if not (isinstance(details, dict) and details.get("sweep_cell")):
            return folder
    return None


def _run_reason(folder, runs_root):
    where = folder.relative_to(runs_root)
    try:
        results = results_file.read_json(folder / "results.json")
    except FileNotFoundError:
        state = collect._state(folder)
        return f"{where.parent}: its latest run {where.name} is {state} with no result"
    except (OSError, ValueError) as error:
        return f"{where.parent}: its latest run {where.name} has an unreadable results.json ({type(error).__name__})"
    issues = results_file.problems(results)
    if issues:
        return f"{where.parent}: its latest run {where.name} has incomplete results ({'; '.join(issues)})"
    if results["target"]["verdict"] != "pass" or results["test"]["accuracy"] < results["target"]["accuracy"]:
        return (f"{where.parent}: its latest run {where.name} misses its target "
                f"({results['test']['accuracy']:.4f} < {results['target']['accuracy']})")
    return None


def _sweep_reasons(section):
    if not section["rows"]:
        return [f"sweep {section['name']}: no cell has a counted result ({section['text']})"]
    found = []
    for row in section["rows"]:
        stats = row["summary"]
        if stats["verdict"] == "falls short" or stats["mean"] < stats["target"]:
            interval = f", 95% CI {stats['ci'][0]:.2%} to {stats['ci'][1]:.2%}" if stats["ci"] else ""
            found.append(f"sweep {section['name']}: {row['platform']} {row['label']}: mean {stats['mean']:.2%} over "
                         f"{stats['n']} seed(s){interval}, short of the target {stats['target']:.2%}")
    return found
