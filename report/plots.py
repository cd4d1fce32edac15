"""The report's plots as PNG bytes: per-epoch training accuracy of every platform, test accuracy per
platform against its target, training speed, and per sweep the replicates per platform (box and
points) and, for grids, accuracy against the varied axis."""

import io


def plots(rows):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    with_results = [row for row in rows if row["results"]]
    return {"curves": _png(pyplot, _curves, with_results), "accuracy": _png(pyplot, _accuracy, with_results),
            "speed": _png(pyplot, _speed, with_results)}


def _curves(axes, rows):
    import matplotlib.ticker

    for row in rows:
        history = row["results"]["history"]
        if history:
            axes.plot([h["epoch"] for h in history], [h.get("accuracy") for h in history], marker="o",
                      label=f"{row['platform']} ({row['obtained']})")
    axes.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    axes.set_xlabel("epoch")
    axes.set_ylabel("training accuracy")
    axes.set_title("Training curves")
    if axes.lines:
        axes.legend()


def _accuracy(axes, rows):
    axes.bar([r["platform"] for r in rows], [r["accuracy"] for r in rows],
             color=["#2a7" if r["verdict"] == "pass" else "#c33" for r in rows])
    for target in sorted({r["target"] for r in rows}):
        axes.axhline(target, color="#333", linestyle="--", linewidth=1)
        axes.text(-0.4, target, f" target {target:.2%}", va="bottom")
    low = min([r["accuracy"] for r in rows] + [r["target"] for r in rows], default=0.9)
    axes.set_ylim(max(0, low - 0.05), 1)
    axes.set_ylabel("test accuracy")
    axes.set_title("Accuracy per platform")


def _speed(axes, rows):
    timed = [r for r in rows if r["images_per_second"]]
    labels = [f"{r['platform']}\n{r['device']}, {r['results']['environment'].get('cpu_cores')} cores" for r in timed]
    axes.bar(labels, [r["images_per_second"] for r in timed], color="#47a")
    axes.set_ylabel("training images per second")
    axes.set_title("Training speed per platform")


def sweep_plots(section):
    """{name: PNG} for one sweep section: the strip/box plot, and the axis plot when an axis varies."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    if not section["rows"]:
        return {}
    images = {f"sweep-{section['name']}": _png(pyplot, _replicates, section["rows"])}
    if section["varied"]:
        images[f"sweep-{section['name']}-{section['varied'][0]}"] = _png(
            pyplot, lambda axes, rows: _against_axis(axes, rows, section["varied"][0]), section["rows"])
    return images


def _replicates(axes, rows):
    labels = [f"{r['platform']}\n{r['label']}" if r["label"] != "–" else r["platform"] for r in rows]
    values = [list(r["accuracies"].values()) for r in rows]
    axes.boxplot(values, widths=0.5, showfliers=False)
    for position, points in enumerate(values, start=1):
        spread = [position + 0.12 * ((i % 5) - 2) / 2 for i in range(len(points))]
        axes.scatter(spread, points, s=18, color="#47a", zorder=3)
    axes.set_xticks(range(1, len(labels) + 1), labels, fontsize=8)
    for target in sorted({r["summary"]["target"] for r in rows}):
        axes.axhline(target, color="#333", linestyle="--", linewidth=1)
    axes.set_ylabel("test accuracy")
    axes.set_title("Test accuracy over seeds, per platform")


def _against_axis(axes, rows, axis):
    for platform in dict.fromkeys(r["platform"] for r in rows):
        mine = sorted((r for r in rows if r["platform"] == platform), key=lambda r: r["point"].get(axis))
        means = [r["summary"]["mean"] for r in mine]
        errors = [(r["summary"]["ci"][1] - r["summary"]["mean"]) if r["summary"]["ci"] else 0 for r in mine]
        axes.errorbar([str(r["point"].get(axis)) for r in mine], means, yerr=errors, marker="o", capsize=4,
                      label=platform)
    axes.set_xlabel(axis)
    axes.set_ylabel("mean test accuracy (95% CI)")
    axes.set_title(f"Accuracy against {axis}")
    axes.legend()


def _png(pyplot, draw, rows):
    figure, axes = pyplot.subplots(figsize=(7, 4))
    draw(axes, rows)
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90)
    pyplot.close(figure)
    return buffer.getvalue()
