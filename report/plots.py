"""The report's two plots as PNG bytes: per-epoch training accuracy of every platform, and test
accuracy per platform against its target."""

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


def _png(pyplot, draw, rows):
    figure, axes = pyplot.subplots(figsize=(7, 4))
    draw(axes, rows)
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90)
    pyplot.close(figure)
    return buffer.getvalue()
