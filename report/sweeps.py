"""The report's sweep section: per sweep, per platform and config, the replicates' statistics, the
target verdict and the verdict against local (report/verdict.py). Cross-validation means and
holdout accuracies are never put in one test."""

import collections

from core import results as results_file
from report import collect, verdict


def sections(manifests, runs_root):
    """One section per sweep, given as (manifest, folder), newest last; runs_root holds their runs."""
    return [section(manifest, folder, runs_root) for manifest, folder in manifests]


def cell_results(manifest, runs_root):
    """[(cell, results)] of the sweep's cells that have complete results."""
    found = []
    for cell in manifest["cells"].values():
        if not cell.get("run"):
            continue
        path = runs_root / cell["run"] / "results.json"
        try:
            results = results_file.read_json(path)
        except (OSError, ValueError):
            continue
        if not results_file.problems(results):
            found.append((cell, results))
    return found


def section(manifest, folder, runs_root):
    varied = [axis for axis in manifest["axes"] if axis != "seed"]
    groups = collections.defaultdict(dict)
    for cell, results in cell_results(manifest, runs_root):
        point = tuple((axis, cell["axes"][axis]) for axis in varied)
        groups[(cell["platform"], point)][cell["config"]["seed"]] = results
    rows = [row(platform, point, members, groups.get(("local", point)), manifest["margin"])
            for (platform, point), members in sorted(groups.items(), key=lambda item: _order(item[0]))]
    states = collections.Counter(cell["state"] for cell in manifest["cells"].values())
    return {"name": folder.name, "description": manifest.get("description") or "", "margin": manifest["margin"],
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
