"""The report's sweep section: per sweep, per platform and config, the replicates' statistics, the
target verdict and the verdict against local (report/verdict.py). Cross-validation means and
holdout accuracies are never put in one test. Only a cell's own run counts: one whose folder is gone,
whose results are damaged or whose config is not the cell's is a problem line, never a replicate."""

import collections
import math
import pathlib

from core import results as results_file
from report import collect, verdict


def sections(manifests, runs_root):
    """One section per sweep, given as (manifest, folder), newest last; runs_root holds their runs.
    A manifest of the wrong shape is left out (`manifest_problem` says why)."""
    return [section(manifest, folder, runs_root) for manifest, folder in manifests if not manifest_problem(manifest)]


def manifest_problem(manifest):
    """What makes a sweep's manifest.json unusable, or None."""
    if not isinstance(manifest, dict):
        return "not a JSON object"
    for key in ("axes", "cells"):
        if not isinstance(manifest.get(key), dict):
            return f"no `{key}` mapping"
    margin = manifest.get("margin")
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not math.isfinite(margin) or not 0 < margin < 1:
        return f"margin {margin!r} is not a fraction in (0, 1)"
    for cell_id, cell in manifest["cells"].items():
        if not (isinstance(cell, dict) and isinstance(cell.get("platform"), str) and isinstance(cell.get("config"), dict)
                and isinstance(cell.get("axes"), dict) and isinstance(cell.get("state"), str)
                and isinstance(cell.get("run"), (str, type(None))) and set(manifest["axes"]) <= set(cell["axes"])):
            return f"cell {cell_id} is not a cell (platform, config, axes, state, run)"
    return None


def cell_results(manifest, runs_root):
    """([(cell, results)] of the cells whose own run has complete results, [problems with the others])."""
    found, problems = [], []
    for cell_id, cell in manifest["cells"].items():
        if not cell.get("run"):
            continue
        where = f"cell {cell_id} ({cell['platform']}, {_label(cell['axes'])})"
        path = runs_root / cell["run"] / "results.json"
        if not path.parent.is_dir():
            problems.append(f"{where}: its run {cell['run']} is gone: not counted; run the sweep again to redo it")
            continue
        try:
            results = results_file.read_json(path)
        except (OSError, ValueError) as error:
            if cell["state"] == "done":
                problems.append(f"{where}: {cell['run']}/results.json unreadable ({type(error).__name__}): not counted")
            continue
        issues = results_file.problems(results)
        other = _other_config(cell["config"], results) if not issues else None
        if issues or other:
            problems.append(f"{where}: {cell['run']} " + (f"results incomplete ({'; '.join(issues)})" if issues else
                            f"was run with another config ({other}): not counted; delete that run, or run the sweep again"))
            continue
        found.append((cell, results))
    return found, problems


def _other_config(config, results):
    """How the run's config differs from the cell's (data by file name: each platform has its own path)."""
    ran = results["config"]
    different = [f"{key} {ran.get(key)!r} for {config.get(key)!r}" for key in collect.COMPARED_CONFIG
                 if key != "dataset" and key in config and ran.get(key) != config.get(key)]
    if pathlib.PurePath(str(ran.get("dataset"))).name != pathlib.PurePath(str(config.get("dataset"))).name:
        different.append(f"dataset {ran.get('dataset')!r} for {config.get('dataset')!r}")
    return ", ".join(different)


def _label(axes):
    return ", ".join(f"{k}={v}" for k, v in axes.items()) or "the base config"


def section(manifest, folder, runs_root):
    varied = [axis for axis in manifest["axes"] if axis != "seed"]
    groups = collections.defaultdict(dict)
    found, problems = cell_results(manifest, runs_root)
    for cell, results in found:
        point = tuple((axis, cell["axes"][axis]) for axis in varied)
        groups[(cell["platform"], point)][cell["config"].get("seed")] = results
    rows = [row(platform, point, members, groups.get(("local", point)), manifest["margin"])
            for (platform, point), members in sorted(groups.items(), key=lambda item: _order(item[0]))]
    counted = {id(cell) for cell, _ in found}
    states = collections.Counter(cell["state"] if cell["state"] != "done" or id(cell) in counted else "done, not counted"
                                 for cell in manifest["cells"].values())
    return {"name": folder.name, "problems": problems, "description": manifest.get("description") or "", "margin": manifest["margin"],
            "axes": manifest["axes"], "varied": varied, "platforms": manifest["platforms"], "rows": rows,
            "cells": len(manifest["cells"]), "states": dict(states), "threads": manifest.get("threads"),
            "text": f"{len(manifest['cells'])} cells: " + ", ".join(f"{n} {s}" for s, n in sorted(states.items()))}


def _order(key):
    platform, point = key
    names = collect.platform_order([])
    return (names.index(platform) if platform in names else len(names), platform, str(point))


def row(platform, point, members, local, margin):
    """One platform at one point of the grid, over its seeds."""
    first = next(iter(members.values()))
    accuracies = {seed: r["test"]["accuracy"] for seed, r in sorted(members.items())}
    stats = verdict.summary(list(accuracies.values()), first["target"]["accuracy"])
    entry = {"platform": platform, "point": dict(point), "label": ", ".join(f"{k}={v}" for k, v in point) or "–",
             "protocol": collect.protocol_of(first), "accuracies": accuracies, "summary": stats,
             "comparison": None, "identical": None}
    if platform != "local" and local:
        entry["comparison"], entry["identical"] = against_local(members, local, margin)
    return entry


def against_local(members, local, margin):
    """(the verdict against local, 'k of n seeds bit-identical' or why not compared)."""
    protocols = {collect.protocol_of(r) for r in members.values()}, {collect.protocol_of(r) for r in local.values()}
    if protocols[0] != protocols[1]:
        return ({"verdict": "not compared", "reason": f"{'/'.join(sorted(protocols[0]))} against local's "
                 f"{'/'.join(sorted(protocols[1]))}: a cross-validation mean is not a holdout accuracy"}, None)
    comparison = verdict.compare({s: r["test"]["accuracy"] for s, r in local.items()},
                                 {s: r["test"]["accuracy"] for s, r in members.items()}, margin)
    seeds = comparison["seeds"]
    same_threads = [s for s in seeds if threads_of(members[s]) == threads_of(local[s])]
    if not same_threads:
        return comparison, "not compared: other thread counts"
    identical = sum(1 for s in same_threads if members[s]["weights_sha256"] == local[s]["weights_sha256"])
    return comparison, f"{identical} of {len(same_threads)}"


def threads_of(results):
    """TensorFlow's intra-op threads of a run: weights compare bit for bit only at the same count."""
    return str(results.get("throughput", {}).get("intra_op_threads", "unrecorded"))


def table(section):
    """The section's rows as text cells, for both templates."""
    cells = []
    for entry in section["rows"]:
        stats, comparison = entry["summary"], entry["comparison"]
        interval = f"{stats['ci'][0]:.2%} to {stats['ci'][1]:.2%}" if stats["ci"] else "–"
        if stats.get("ci_clipped"):
            interval += " (clipped to 0-100%: wide, too few seeds)"
        cells.append([
            entry["platform"], entry["label"], entry["protocol"], str(stats["n"]), f"{stats['mean']:.2%}",
            f"{stats['sd'] * 100:.2f} pt" if stats["sd"] is not None else "–", interval,
            f"{stats['passing']} of {stats['n']}", stats["verdict"], _difference(comparison),
            _verdict_text(comparison), entry["identical"] or "–"])
    return cells


COLUMNS = ["platform", "config", "protocol", "n", "mean accuracy", "sd", "95% CI", "seeds passing", "target",
           "vs local (95% CI)", "verdict vs local", "weights = local"]


def _difference(comparison):
    if not comparison or comparison.get("difference") is None:
        return "–"
    low, high = comparison["ci"]
    return f"{comparison['difference'] * 100:+.2f} pt ({low * 100:+.2f} to {high * 100:+.2f})"


def _verdict_text(comparison):
    if not comparison:
        return "–"
    text = f"{comparison['verdict'].upper()}: {comparison['reason']}"
    if comparison["verdict"] == "inconclusive" and comparison.get("seeds_needed"):
        text += f"; about {comparison['seeds_needed']} seeds would settle it"
    elif comparison["verdict"] == "inconclusive" and comparison.get("difference") is not None:
        text += "; the observed difference is at or beyond the margin: more seeds would not show equivalence"
    return text
