"""`portability report`: one page comparing every platform's runs against the target and the local run.

Reads the run store only; a damaged or partial run folder becomes a line under "Problems", never a crash.
"""

import base64
import collections
import html
import io
import json
import pathlib

from adapters import codediff, runs
from adapters.base import ROOT

PLATFORM_ORDER = ("local", "docker", "kaggle", "codalab", "openml", "comet")
RANK = {"executed": 2, "emulated": 1}
COMPARED_CONFIG = ("dataset", "model", "epochs", "optimizer", "learning_rate", "batch_size", "seed",
                   "validation_split", "fine_tune_epochs", "augmentation_epochs", "max_train_samples")


def collect():
    """(results of every readable run, problems with the others)."""
    found, problems = [], []
    root = runs.runs_root()
    for path in sorted(root.glob("*/*")):
        if not path.is_dir():
            continue
        results_path = path / "results.json"
        if not results_path.is_file():
            state = runs.last_state(path) if (path / "status.json").is_file() else "no status"
            if state not in ("queued", "running", "submitting"):
                problems.append(f"{path.relative_to(root)}: no results.json (state: {state})")
            continue
        try:
            results = json.loads(results_path.read_text())
        except (OSError, ValueError) as error:
            problems.append(f"{path.relative_to(root)}: results.json unreadable ({error})")
            continue
        issues = __import__("core.results", fromlist=["problems"]).problems(results)
        if issues:
            problems.append(f"{path.relative_to(root)}: results.json incomplete ({'; '.join(issues)})")
            continue
        results["_folder"] = str(path.relative_to(root))
        results["_store_platform"] = path.parent.name
        found.append(results)
    return found, problems


def config_key(results):
    """The config that decides the weights, with the data known by its file hashes, not its path
    (each platform sees the same files at its own path)."""
    data = json.dumps(results["dataset"].get("files") or results["dataset"].get("name"), sort_keys=True)
    return (data, *(results["config"].get(k) for k in COMPARED_CONFIG if k != "dataset"))


def protocol_of(results):
    return results["platform"].get("protocol") or "holdout"


def pick_rows(found):
    """One row per platform: its best-obtained, then latest, run; comparable with local when possible."""
    local = max((r for r in found if r["_store_platform"] == "local"), key=lambda r: r["_folder"], default=None)
    rows = []
    for name in sorted(set(PLATFORM_ORDER) | {r["_store_platform"] for r in found},
                       key=lambda n: PLATFORM_ORDER.index(n) if n in PLATFORM_ORDER else 99):
        candidates = [r for r in found if r["_store_platform"] == name]
        if local is not None:
            same = [r for r in candidates if config_key(r) == config_key(local)]
            candidates = same or candidates
        best = max(candidates, key=lambda r: (RANK.get(r["platform"]["obtained"], 0), r["_folder"]), default=None)
        rows.append(row_for(name, best, local))
    return rows, local


def row_for(name, results, local):
    if results is None:
        pushed = sorted(path for path in (runs.runs_root() / name).glob("*") if (path / "status.json").is_file())
        if pushed:  # pushed, but no result (yet): say so, never "packaged"
            return {"platform": name, "obtained": f"{runs.last_state(pushed[-1])}, no result", "results": None}
        packaged = (codediff.PLATFORMS_DIR / name).is_dir()
        return {"platform": name, "obtained": "packaged" if packaged else "not built", "results": None}
    environment = results["environment"]
    hardware = f"{environment.get('cpu')} x{environment.get('cpu_cores')}"
    if environment.get("gpus"):
        hardware += f", GPU {', '.join(environment['gpus'])}"
    comparable = local is not None and config_key(results) == config_key(local) and protocol_of(results) == protocol_of(local)
    return {
        "platform": name,
        "obtained": results["platform"]["obtained"],
        "results": results,
        "dataset": results["dataset"]["name"],
        "model": results["model"]["name"],
        "epochs": results["config"]["epochs"],
        "protocol": protocol_of(results),
        "accuracy": results["test"]["accuracy"],
        "target": results["target"]["accuracy"],
        "verdict": results["target"]["verdict"],
        "delta": results["test"]["accuracy"] - local["test"]["accuracy"] if comparable else None,
        "comparable": comparable,
        "training_seconds": results["timings"].get("training"),
        "hardware": hardware,
        "versions": f"TF {environment.get('tensorflow')} / Keras {environment.get('keras')}",
        "same_weights": (results["weights_sha256"] == local["weights_sha256"]) if comparable else None,
        "folder": results["_folder"],
    }


def reproducibility(found):
    groups = collections.defaultdict(list)
    for results in found:
        if "folds" not in results:
            groups[config_key(results)].append(results)
    lines = []
    for key, members in groups.items():
        if len(members) < 2:
            continue
        accuracies = [r["test"]["accuracy"] for r in members]
        hashes = {r["weights_sha256"] for r in members}
        lines.append({"config": dict(members[0]["config"], dataset=members[0]["dataset"]["name"]), "runs": len(members),
                      "platforms": sorted({r["_store_platform"] for r in members}),
                      "bit_identical": len(hashes) == 1, "distinct_weights": len(hashes),
                      "accuracy_min": min(accuracies), "accuracy_max": max(accuracies)})
    return lines


def drift(rows, local):
    """Package versions and hardware of each platform run that differ from the local run."""
    if local is None:
        return []
    keys = ("python", "tensorflow", "keras", "numpy", "cpu", "cpu_cores", "gpus", "os", "in_container")
    lines = []
    for row in rows:
        if row["results"] is None or row["platform"] == "local":
            continue
        environment = row["results"]["environment"]
        changes = {k: (local["environment"].get(k), environment.get(k)) for k in keys
                   if local["environment"].get(k) != environment.get(k)}
        lines.append({"platform": row["platform"], "changes": changes})
    return lines


def diffs():
    found = []
    for name in PLATFORM_ORDER[1:]:
        if (codediff.PLATFORMS_DIR / name / codediff.LOCAL_ENTRY).is_file():
            found.append(codediff.platform_diff(name))
    return found


def plots(rows):
    """Two PNGs: per-epoch training accuracy of every platform, and accuracy per platform vs target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.ticker
    from matplotlib import pyplot

    images = {}
    figure, axes = pyplot.subplots(figsize=(7, 4))
    for row in rows:
        if row["results"] and row["results"]["history"]:
            history = row["results"]["history"]
            axes.plot([h["epoch"] for h in history], [h.get("accuracy") for h in history], marker="o",
                      label=f"{row['platform']} ({row['obtained']})")
    axes.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    axes.set_xlabel("epoch")
    axes.set_ylabel("training accuracy")
    axes.set_title("Training curves")
    if axes.lines:
        axes.legend()
    images["curves"] = _png(figure, pyplot)
    figure, axes = pyplot.subplots(figsize=(7, 4))
    with_results = [row for row in rows if row["results"]]
    axes.bar([r["platform"] for r in with_results], [r["accuracy"] for r in with_results],
             color=["#2a7" if r["verdict"] == "pass" else "#c33" for r in with_results])
    for target in sorted({r["target"] for r in with_results}):
        axes.axhline(target, color="#333", linestyle="--", linewidth=1)
        axes.text(-0.4, target, f" target {target:.2%}", va="bottom")
    low = min([r["accuracy"] for r in with_results] + [r["target"] for r in with_results], default=0.9)
    axes.set_ylim(max(0, low - 0.05), 1)
    axes.set_ylabel("test accuracy")
    axes.set_title("Accuracy per platform")
    images["accuracy"] = _png(figure, pyplot)
    return images


def _png(figure, pyplot):
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90)
    pyplot.close(figure)
    return buffer.getvalue()


def build(out_dir=None):
    """Write report.md, report.html and the plots; return the data behind them."""
    out_dir = pathlib.Path(out_dir or ROOT / "results")
    found, problems = collect()
    rows, local = pick_rows(found)
    data = {"rows": rows, "local": local, "problems": problems, "reproducibility": reproducibility(found),
            "drift": drift(rows, local), "diffs": diffs()}
    images = plots(rows)
    (out_dir / "plots").mkdir(parents=True, exist_ok=True)
    for name, png in images.items():
        (out_dir / "plots" / f"{name}.png").write_bytes(png)
    (out_dir / "report.md").write_text(markdown(data))
    (out_dir / "report.html").write_text(html_page(data, images))
    return data


def _fmt(value, kind):
    if value is None:
        return "–"
    if kind == "pct":
        return f"{value:.2%}"
    if kind == "delta":
        return f"{value * 100:+.2f} pt"
    if kind == "s":
        return f"{value:.1f} s"
    if kind == "bool":
        return "yes" if value else "no"
    return str(value)


COLUMNS = [("platform", "platform", "str"), ("obtained", "how obtained", "str"), ("dataset", "dataset", "str"),
           ("model", "model", "str"), ("epochs", "epochs", "str"), ("protocol", "protocol", "str"),
           ("accuracy", "test accuracy", "pct"), ("target", "target", "pct"), ("verdict", "verdict", "str"),
           ("delta", "vs local", "delta"), ("training_seconds", "training", "s"), ("hardware", "hardware", "str"),
           ("versions", "TF / Keras", "str"), ("same_weights", "weights = local", "bool")]


def table_cells(row):
    if row["results"] is None:
        return [row["platform"], row["obtained"]] + ["–"] * (len(COLUMNS) - 2)
    cells = [_fmt(row[key], kind) for key, _, kind in COLUMNS]
    if row["verdict"]:
        cells[8] = row["verdict"].upper()
    return cells


def markdown(data):
    lines = ["# Portability report", "",
             "Every platform's run of the experiment against its target and the local run. *executed*: ran on "
             "the platform; *emulated*: ran here in an emulation of the platform's runtime; *packaged*: built, "
             "not run; *<state>, no result*: pushed, but no results.json came back (see Problems). \"vs local\" and \"weights = local\" compare only runs with the local run's config and protocol.", "",
             "## Results", "", "| " + " | ".join(title for _, title, _ in COLUMNS) + " |",
             "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(table_cells(row)) + " |" for row in data["rows"]]
    cv = [row for row in data["rows"] if row["results"] and "CV" in row["protocol"]]
    if cv:
        lines += ["", "Cross-validation rows report the mean over folds of all 70,000 rows (or the task's rows), "
                  "not a 10,000-image holdout: compare them with holdout rows with care."]
    lines += ["", "## Code each platform needed beyond the local run", "",
              "| platform | " + " | ".join(codediff.GROUPS) + " | core embedded |", "|---|" + "---|" * (len(codediff.GROUPS) + 1)]
    for diff in data["diffs"]:
        lines.append(f"| {diff['platform']} | " + " | ".join(str(diff["counts"][g]) for g in codediff.GROUPS)
                     + f" | {diff['embedded_core_lines'] or '–'} |")
    for diff in data["diffs"]:
        lines += ["", f"### {diff['platform']}", ""]
        for function, (group, doc) in diff["functions"].items():
            lines.append(f"- `{function}` ({group}){': ' + doc if doc else ''}")
        for path, count in diff["manifests"].items():
            lines.append(f"- `{path}` (manifest, {count} lines)")
        lines += ["", "```diff", *[line for line in diff["diff"] if not _embedded_line(line)], "```"]
    lines += ["", "## Environment drift against the local run", ""]
    for entry in data["drift"]:
        changes = "; ".join(f"{k}: {a} → {b}" for k, (a, b) in entry["changes"].items()) or "none"
        lines.append(f"- **{entry['platform']}**: {changes}")
    if not data["drift"]:
        lines.append("No platform run to compare with a local run yet.")
    lines += ["", "## Reproducibility", ""]
    for entry in data["reproducibility"]:
        lines.append(f"- {entry['config']['dataset']}/{entry['config']['model']}, {entry['config']['epochs']} epoch(s), "
                     f"seed {entry['config']['seed']}: {entry['runs']} runs on {', '.join(entry['platforms'])}; "
                     f"{'bit-identical weights' if entry['bit_identical'] else str(entry['distinct_weights']) + ' distinct weight sets'}; "
                     f"accuracy {entry['accuracy_min']:.4f} to {entry['accuracy_max']:.4f}")
    if not data["reproducibility"]:
        lines.append("No config has been run twice yet.")
    lines += ["", "## Plots", "", "![training curves](plots/curves.png)", "", "![accuracy per platform](plots/accuracy.png)"]
    if data["problems"]:
        lines += ["", "## Problems", "", *[f"- {problem}" for problem in data["problems"]]]
    return "\n".join(lines) + "\n"


def _embedded_line(line):
    return line.startswith("+CORE_SOURCES[") or len(line) > 400


def html_page(data, images):
    def table(headers, body_rows, classes=None):
        head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
        body = "".join("<tr" + (f' class="{classes[i]}"' if classes else "") + ">"
                       + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>"
                       for i, cells in enumerate(body_rows))
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    rows = data["rows"]
    classes = [row["verdict"] if row["results"] else row["obtained"].replace(" ", "-")
               if row["obtained"] in ("packaged", "not built") else "no-result" for row in rows]
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>Portability report</title><style>",
             "body{font-family:sans-serif;margin:2em;color:#222} table{border-collapse:collapse;margin:1em 0}",
             "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px} th{background:#eee}",
             "tr.pass td{background:#e9f7ef} tr.fail td{background:#fdecea} tr.packaged td,tr.not-built td{color:#888} tr.no-result td{background:#fff4e5}",
             "table.diff td{font-family:monospace;font-size:11px} .diff_add{background:#cfc} .diff_chg{background:#ffc}",
             ".diff_sub{background:#fcc} img{max-width:48%;margin-right:1%}</style></head><body>",
             "<h1>Portability report</h1><p>executed: ran on the platform; emulated: ran here in an emulation of the "
             "platform's runtime; packaged: built, not run; &lt;state&gt;, no result: pushed, but no results.json came "
             "back (see Problems).</p><h2>Results</h2>",
             table([title for _, title, _ in COLUMNS], [table_cells(row) for row in rows], classes),
             "<h2>Plots</h2>"]
    for name, png in images.items():
        parts.append(f"<img alt='{name}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>")
    parts.append("<h2>Code each platform needed beyond the local run</h2>")
    parts.append(table(["platform", *codediff.GROUPS, "core embedded"],
                       [[d["platform"], *[d["counts"][g] for g in codediff.GROUPS], d["embedded_core_lines"] or "–"]
                        for d in data["diffs"]]))
    for diff in data["diffs"]:
        parts.append(f"<h3>{html.escape(diff['platform'])}</h3><ul>")
        for function, (group, doc) in diff["functions"].items():
            parts.append(f"<li><code>{html.escape(function)}</code> ({group}) {html.escape(doc)}</li>")
        parts.append("</ul>" + codediff.html_side_by_side(diff["platform"]))
    parts.append("<h2>Environment drift against the local run</h2><ul>")
    for entry in data["drift"]:
        changes = "; ".join(f"{k}: {a} → {b}" for k, (a, b) in entry["changes"].items()) or "none"
        parts.append(f"<li><b>{html.escape(entry['platform'])}</b>: {html.escape(changes)}</li>")
    parts.append("</ul><h2>Reproducibility</h2><ul>")
    for entry in data["reproducibility"]:
        parts.append(f"<li>{html.escape(entry['config']['model'])}, seed {entry['config']['seed']}: {entry['runs']} runs "
                     f"({html.escape(', '.join(entry['platforms']))}), "
                     f"{'bit-identical' if entry['bit_identical'] else 'not bit-identical'}, accuracy "
                     f"{entry['accuracy_min']:.4f}–{entry['accuracy_max']:.4f}</li>")
    parts.append("</ul>")
    if data["problems"]:
        parts.append("<h2>Problems</h2><ul>" + "".join(f"<li>{html.escape(p)}</li>" for p in data["problems"]) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def failing_rows(data):
    return [row for row in data["rows"] if row["results"] and row["verdict"] == "fail"]
