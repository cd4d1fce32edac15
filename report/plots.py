"""The report's plots, each a PNG with a caption that says what it shows: training curves (per step
chunk when the runs are shorter than 3 epochs, with the validation points at each epoch's end), test
accuracy per platform as points with their 95% interval over seeds and the target, and training speed.
Platforms whose curves are identical share one line, named together: no legend outgrows the data."""

import io
import json

from report import answer, plot_sweeps

STEP_CHUNK_EPOCHS = 3  # shorter runs: a curve per step chunk, else per epoch
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")


def plots(rows, sections=()):
    """{name: {"png": bytes, "caption": str}} for the report's runs (and the sweeps' replicates)."""
    with_results = [row for row in rows if row["results"]]
    images = {}
    if with_results:
        images["curves"] = figure(_curves, with_results)
        images["accuracy"] = figure(_accuracy, with_results, answer.latest_replicates(sections))
    timed = [row for row in with_results if row["images_per_second"]]
    if timed:
        images["speed"] = figure(_speed, timed)
    return images


def sweep_plots(section):
    """{name: {"png", "caption"}} for one sweep section: replicates per platform, and the axis plot."""
    return plot_sweeps.sweep_plots(section, figure)


def figure(draw, *arguments):
    """Draw on one new axes; {"png": the figure, "caption": what `draw` says it shows}."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    shape, axes = pyplot.subplots(figsize=(7, 4))
    caption = draw(axes, *arguments)
    axes.spines[["top", "right"]].set_visible(False)
    buffer = io.BytesIO()
    shape.tight_layout()
    shape.savefig(buffer, format="png", dpi=90)
    pyplot.close(shape)
    return {"png": buffer.getvalue(), "caption": caption}


def same_curves(rows, key):
    """[(names, a row)]: platforms whose curve (the values `key` gives) is identical, grouped."""
    groups = {}
    for row in rows:
        groups.setdefault(json.dumps(key(row)), []).append(row)
    return [([r["platform"] for r in members], members[0]) for members in groups.values()]


def chunk_points(steps):
    """(epoch position, accuracy of the chunk) per step chunk, from Keras' running means since each epoch
    began: a chunk's accuracy is the change in the running total over its steps."""
    points, before = [], (None, 0, 0.0)
    for row in steps:
        if row.get("accuracy") is None or not row.get("epoch_fraction"):
            continue
        epoch, fraction, accuracy = row["epoch"], row["epoch_fraction"], row["accuracy"]
        start, total = (before[1], before[2]) if before[0] == epoch else (0, 0.0)
        if fraction > start:
            points.append((epoch - 1 + fraction, (accuracy * fraction - total) / (fraction - start)))
        before = (epoch, fraction, accuracy * fraction)
    return points


def _curves(axes, rows):
    epochs = max(len(row["results"]["history"]) for row in rows)
    by_chunk = epochs < STEP_CHUNK_EPOCHS and any(row["results"].get("history_steps") for row in rows)
    groups = same_curves(rows, lambda r: [r["results"].get("history_steps") if by_chunk else None,
                                          [[h.get(k) for k in ("loss", "accuracy", "val_accuracy")] for h in r["results"]["history"]]])
    validated, per_epoch = False, []
    for index, (names, row) in enumerate(groups):
        color, history = COLORS[index % len(COLORS)], row["results"]["history"]
        chunks = chunk_points(row["results"].get("history_steps") or []) if by_chunk else []
        points = chunks or [(h["epoch"], h.get("accuracy")) for h in history]
        per_epoch += names if by_chunk and not chunks else []
        axes.plot([x for x, _ in points], [y for _, y in points], color=color, marker="o" if len(points) < 12 else "",
                  linewidth=1.5, label=", ".join(names))
        checked = [(h["epoch"], h["val_accuracy"]) for h in history if h.get("val_accuracy") is not None]
        validated = validated or bool(checked)
        axes.scatter([x for x, _ in checked], [y for _, y in checked], marker="D", s=36, color=color, zorder=3,
                     edgecolor="black", linewidth=0.6)
    axes.set_xlabel("epoch" + (" (fractions: steps into the epoch)" if by_chunk else ""))
    axes.set_ylabel("training accuracy")
    axes.legend(fontsize=8, frameon=False, loc="lower right", title="identical curves share a line" if
                any(len(names) > 1 for names, _ in groups) else None, title_fontsize=8)
    what = (f"Training accuracy of each {_chunk(rows)}-step chunk (lines)" if by_chunk
            else "Training accuracy at the end of each epoch (lines)")
    return (what + (f", at each epoch's end for {', '.join(per_epoch)} (dots: no step log)" if per_epoch else "")
            + (" and validation accuracy at each epoch's end (diamonds)" if validated else
               "; these runs held out no validation set")
            + f"; {len(rows)} platform(s) in {len(groups)} distinct curve(s): "
            + "; ".join(", ".join(names) for names, _ in groups) + ".")


def _chunk(rows):
    return rows[0]["results"].get("throughput", {}).get("steps_per_execution", 32)


VERDICT_COLORS = {"clears the target": "#2a7", "falls short": "#c33", "straddles the target": "#d80", "pass": "#2a7",
                  "fail": "#c33"}


def accuracy_point(row, replicated):
    """(value, low, high, label, verdict) of a platform: its seeds' mean and 95% interval, else its run."""
    stats = (replicated.get(row["platform"]) or {}).get("summary")
    if stats and stats["n"] > 1 and stats.get("ci"):
        low, high = max(0.0, stats["ci"][0]), min(1.0, stats["ci"][1])
        return stats["mean"], low, high, f"{stats['mean']:.2%} (n={stats['n']})\n{low:.2%} to {high:.2%}", stats["verdict"]
    value = row["accuracy"]
    return value, value, value, f"{value:.2%}", row["verdict"]


def _accuracy(axes, rows, replicated):
    points = [accuracy_point(row, replicated) for row in rows]
    for position, (value, low, high, text, verdict) in enumerate(points):
        axes.errorbar([position], [value], yerr=[[value - low], [high - value]], fmt="o", markersize=7, capsize=6,
                      color=VERDICT_COLORS.get(verdict, "#47a"))
        axes.annotate(text, (position, value), xytext=(9, 0), textcoords="offset points", va="center", fontsize=8)
    targets = sorted({row["target"] for row in rows})
    if len(targets) == 1:
        axes.axhline(targets[0], color="#333", linestyle="--", linewidth=1)
        axes.annotate(f"target {targets[0]:.2%}", (1, targets[0]), xycoords=("axes fraction", "data"), ha="right",
                      va="bottom", fontsize=8, color="#333")
    else:  # each platform's own target (a cross-validated run may have another)
        for position, row in enumerate(rows):
            axes.hlines(row["target"], position - 0.35, position + 0.35, color="#333", linestyle="--", linewidth=1)
    lows = [min(p[1] for p in points)] + targets
    highs = [max(p[2] for p in points)] + targets
    spread = max(max(highs) - min(lows), 0.004)
    axes.set_ylim(max(0.0, min(lows) - spread * 0.25), min(1.0, max(highs) + spread * 0.15) + spread * 0.05)
    axes.set_xticks(range(len(rows)), [row["platform"] for row in rows], fontsize=9)
    axes.set_xlim(-0.5, len(rows) - 0.1)
    axes.yaxis.set_major_formatter(plot_sweeps.percent())
    axes.set_ylabel("test accuracy")
    over_seeds = [row["platform"] for row, point in zip(rows, points) if point[1] != point[2]]
    return ("Test accuracy per platform: " + (f"the mean over seeds with its 95% interval for {', '.join(over_seeds)}, "
                                              "one run's accuracy for the others" if over_seeds else "one run each")
            + "; green clears its target, orange straddles it, red misses it; dashed: the target "
            + f"({', '.join(f'{t:.2%}' for t in targets)}).")


def _speed(axes, rows):
    labels = [f"{r['platform']} ({r['device']}, {r['results']['environment'].get('cpu_cores')} cores)" for r in rows]
    values = [r["images_per_second"] for r in rows]
    bars = axes.barh(labels, values, color="#47a")
    axes.bar_label(bars, [f"{v:,.0f}" for v in values], padding=3, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, max(values) * 1.2)
    axes.set_xlabel("training images per second")
    fastest = max(rows, key=lambda r: r["images_per_second"])
    return (f"Training speed: images per second over all training phases, per platform, with its device and "
            f"cores; fastest: {fastest['platform']} ({fastest['images_per_second']:,.0f} images/s).")
