"""The report's data: the results of every run in the store, one row per platform, reproducibility
across runs of one config, and environment drift against the local run. A damaged or partial run
folder becomes a line under "Problems", never a crash."""

import collections
import json

import adapters
from core import results as results_file

RANK = {"executed": 2, "emulated": 1}
COMPARED_CONFIG = ("dataset", "model", "epochs", "optimizer", "learning_rate", "batch_size", "seed",
                   "validation_split", "fine_tune_epochs", "augmentation_epochs", "max_train_samples")
ENVIRONMENT_KEYS = ("python", "tensorflow", "keras", "numpy", "cpu", "cpu_cores", "gpus", "os", "in_container")


def collect(root):
    """(results of every complete run under the run store `root`, problems with the others)."""
    found, problems = [], []
    for path in sorted(root.glob("*/*")):
        if not path.is_dir() or path.parent.name.startswith("_"):  # _sweeps holds manifests, not runs
            continue
        where = path.relative_to(root)
        if not (path / "results.json").is_file():
            state = _state(path)
            if state not in ("queued", "running", "submitting"):
                said = _detail(path)
                problems.append(f"{where}: no results.json (state: {state}{': ' + said if said else ''})")
            continue
        try:
            results = results_file.read_json(path / "results.json")
        except (OSError, ValueError) as error:
            problems.append(f"{where}: results.json unreadable ({error})")
            continue
        issues = results_file.problems(results)
        if issues:
            problems.append(f"{where}: results.json incomplete ({'; '.join(issues)})")
            continue
        results["_folder"], results["_store_platform"] = str(where), path.parent.name
        found.append(results)
    return found, problems


def _history(path):
    """A run folder's status.json (read here: the report takes folders, not the store)."""
    history = results_file.read_json(path / "status.json")
    if not isinstance(history, list) or not all(isinstance(entry, dict) and "state" in entry for entry in history):
        raise ValueError("not a list of states")
    return history


def _state(path):
    try:
        state = _history(path)[-1]["state"] if (path / "status.json").is_file() else "no status"
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return "status.json unreadable"
    return state if isinstance(state, str) else "status.json unreadable"


def _detail(path):
    """What the platform (or the tool) last said about a run in its status.json, e.g. a failure message."""
    try:
        return next((entry["detail"] for entry in reversed(_history(path)) if entry.get("detail")), None)
    except (OSError, ValueError):  # a damaged status.json: _state says so already
        return None


def config_key(results):
    """The config that decides the weights, with the data known by its file hashes, not its path
    (each platform sees the same files at its own path). A user's own script: its file's hash, its
    data files' hashes, its argv, seed and metric decide."""
    if "experiment" in results:
        own = results["config"]
        return ("script", own.get("script_sha256"), json.dumps(own.get("data"), sort_keys=True),
                tuple(own.get("args") or ()), own.get("seed"), own.get("metric"))
    data = json.dumps(results["dataset"].get("files") or results["dataset"].get("name"), sort_keys=True)
    return (data, *(results["config"].get(k) for k in COMPARED_CONFIG if k != "dataset"))


def protocol_of(results):
    return results["platform"].get("protocol") or "holdout"


def platform_order(found):
    known = adapters.names()
    return known + sorted({r["_store_platform"] for r in found} - set(known))


def pick_rows(found, platforms_dir, root):
    """One row per platform: its best-obtained, then latest, run; comparable with local when possible."""
    local = max((r for r in found if r["_store_platform"] == "local"), key=lambda r: r["_folder"], default=None)
    rows = []
    for name in platform_order(found):
        candidates = [r for r in found if r["_store_platform"] == name]
        if local is not None:
            candidates = [r for r in candidates if config_key(r) == config_key(local)] or candidates
        best = max(candidates, key=lambda r: (RANK.get(r["platform"]["obtained"], 0), r["_folder"]), default=None)
        rows.append(row_for(name, best, local) if best else empty_row(name, platforms_dir, root))
    return rows, local


def empty_row(name, platforms_dir, root):
    pushed = sorted(path for path in (root / name).glob("*") if (path / "status.json").is_file())
    if pushed:  # pushed, but no result (yet): say so, never "packaged"
        return {"platform": name, "obtained": f"{_state(pushed[-1])}, no result", "results": None,
                "tested_against": adapters.tested_against(name)}
    return {"platform": name, "obtained": "packaged" if (platforms_dir / name).is_dir() else "not built",
            "results": None, "tested_against": adapters.tested_against(name)}


def platform_note(name, platform):
    """What the platform holds of the run (published id, its own score), said by its adapter."""
    return adapters.get(name).report_note(platform) if name in adapters.REGISTRY else ""


def row_for(name, results, local):
    environment = results["environment"]
    hardware = f"{environment.get('cpu')} x{environment.get('cpu_cores')}"
    if environment.get("gpus"):
        hardware += f", GPU {', '.join(environment['gpus'])}"
    comparable = local is not None and config_key(results) == config_key(local) and protocol_of(results) == protocol_of(local)
    return {
        "platform": name, "results": results,
        "obtained": how_it_ran(name, results["platform"]),
        "dataset": results["dataset"]["name"], "model": model_label(results),
        "epochs": results["config"].get("epochs", len(results.get("history") or [])), "protocol": protocol_of(results),
        "accuracy": results["test"]["accuracy"], "target": results["target"]["accuracy"],
        "verdict": results["target"]["verdict"],
        "delta": results["test"]["accuracy"] - local["test"]["accuracy"] if comparable else None,
        "comparable": comparable, "training_seconds": results["timings"].get("training"), "hardware": hardware,
        "versions": f"TF {environment.get('tensorflow')} / Keras {environment.get('keras')}",
        "same_weights": (results["weights_sha256"] == local["weights_sha256"]) if comparable else None,
        "images_per_second": images_per_second(results),
        "device": results.get("throughput", {}).get("device"),
        "folder": results["_folder"],
        # the mean over folds is ours; a platform's own number (pooled) and record come labelled here
        "platform_note": platform_note(name, results["platform"]) or None,
        "tested_against": adapters.tested_against(name),
    }


def how_it_ran(name, platform):
    """The platform's own words for where the run computed and what reached it, else how it was obtained."""
    label = adapters.get(name).how_it_ran(platform, platform["obtained"]) if name in adapters.REGISTRY else None
    return label or platform["obtained"] + (f" ({platform['engine']})" if platform.get("engine") else "")


def model_label(results):
    """The model column: the built-in model's name, or a user's script with its argv (and its model's)."""
    if "experiment" not in results:
        return results["model"]["name"]
    own = results["config"]
    return " ".join([own["script"], *own.get("args", [])]) + f" ({results['model'].get('name') or 'no model'})"


def experiment_label(results):
    if "experiment" in results:
        return f"{results['dataset']['name']}/{model_label(results)}"
    config = results["config"]
    return f"{results['dataset']['name']}/{config['model']}, {config['epochs']} epoch(s)"


def images_per_second(results):
    """Training images per second over all phases, from results.json's throughput (None before it existed)."""
    phases = results.get("throughput", {}).get("phases", {}).values()
    seconds = sum(phase["seconds"] for phase in phases)
    return sum(phase["images"] for phase in phases) / seconds if seconds else None


def reproducibility(found):
    groups = collections.defaultdict(list)
    for results in found:
        if "folds" not in results:
            groups[config_key(results)].append(results)
    lines = []
    for members in groups.values():
        if len(members) < 2:
            continue
        accuracies = [r["test"]["accuracy"] for r in members]
        hashes = {r["weights_sha256"] for r in members}
        config = dict(members[0]["config"], dataset=members[0]["dataset"]["name"])
        lines.append({"config": config, "runs": len(members),
                      "platforms": sorted({r["_store_platform"] for r in members}),
                      "bit_identical": len(hashes) == 1, "distinct_weights": len(hashes),
                      "accuracy_min": min(accuracies), "accuracy_max": max(accuracies),
                      "text": f"{experiment_label(members[0])}, seed {config['seed']}: "
                              f"{len(members)} runs on {', '.join(sorted({r['_store_platform'] for r in members}))}; "
                              + ("bit-identical weights" if len(hashes) == 1 else f"{len(hashes)} distinct weight sets")
                              + f"; accuracy {min(accuracies):.4f} to {max(accuracies):.4f}"})
    return lines


def drift(rows, local):
    """Package versions and hardware of each platform run that differ from the local run."""
    if local is None:
        return []
    lines = []
    for row in rows:
        if row["results"] is None or row["platform"] == "local":
            continue
        environment = row["results"]["environment"]
        changes = {k: (local["environment"].get(k), environment.get(k)) for k in ENVIRONMENT_KEYS
                   if local["environment"].get(k) != environment.get(k)}
        text = "; ".join(f"{k}: {a} → {b}" for k, (a, b) in changes.items()) or "none"
        lines.append({"platform": row["platform"], "changes": changes, "text": text})
    return lines
