"""A sweep's plots: each seed's accuracy with the mean and its 95% interval per platform (and config),
and, when an axis besides the seed varies, the mean accuracy against that axis."""


def percent():
    """The y axis in percent (matplotlib imported when a plot is drawn, not with the report)."""
    import matplotlib.ticker

    return matplotlib.ticker.PercentFormatter(1.0, decimals=1)


def sweep_plots(section, figure):
    """{name: {"png", "caption"}} for one sweep section, drawn by report.plots.figure."""
    if not section["rows"]:
        return {}
    images = {f"sweep-{section['name']}": figure(replicates, section["rows"])}
    if section["varied"]:
        axis = section["varied"][0]
        images[f"sweep-{section['name']}-{axis}"] = figure(against_axis, section["rows"], axis)
    return images


def interval(stats):
    """(low, high) of the mean's 95% interval within 0-100%, or the mean alone for one seed."""
    if not stats.get("ci"):
        return stats["mean"], stats["mean"]
    return max(0.0, stats["ci"][0]), min(1.0, stats["ci"][1])


def replicates(axes, rows):
    for position, row in enumerate(rows):
        points = list(row["accuracies"].values())
        spread = [position - 0.18 + 0.36 * i / max(1, len(points) - 1) for i in range(len(points))]
        axes.scatter(spread, points, s=16, color="#9ab", zorder=2)
        stats = row["summary"]
        low, high = interval(stats)
        axes.errorbar([position], [stats["mean"]], yerr=[[stats["mean"] - low], [high - stats["mean"]]], fmt="o",
                      color="#135", capsize=6, zorder=3)
        axes.annotate(f"{stats['mean']:.2%}", (position, stats["mean"]), xytext=(10, 0), textcoords="offset points",
                      va="center", fontsize=8)
        axes.hlines(stats["target"], position - 0.4, position + 0.4, color="#333", linestyle="--", linewidth=1)
    targets = sorted({r["summary"]["target"] for r in rows})
    if len(targets) == 1:
        axes.annotate(f"target {targets[0]:.2%}", (1, targets[0]), xycoords=("axes fraction", "data"), ha="right",
                      va="bottom", fontsize=8, color="#333")
    labels = [f"{r['platform']}\n{r['label']}" if r["label"] != "–" else r["platform"] for r in rows]
    axes.set_xticks(range(len(rows)), labels, fontsize=8)
    axes.set_xlim(-0.6, len(rows) - 0.3)
    axes.yaxis.set_major_formatter(percent())
    axes.set_ylabel("test accuracy")
    seeds = sorted({len(r["accuracies"]) for r in rows})
    return (f"Each seed's test accuracy (light dots; {'/'.join(map(str, seeds))} seeds) and their mean with its 95% "
            f"t interval, clipped to 0-100% (dark), per platform{' and config' if rows[0]['label'] != '–' else ''}; "
            f"dashed: the target ({', '.join(f'{t:.2%}' for t in targets)}).")


def against_axis(axes, rows, axis):
    platforms = list(dict.fromkeys(r["platform"] for r in rows))
    for platform in platforms:
        mine = sorted((r for r in rows if r["platform"] == platform), key=lambda r: r["point"].get(axis))
        means = [r["summary"]["mean"] for r in mine]
        bounds = [interval(r["summary"]) for r in mine]
        axes.errorbar([str(r["point"].get(axis)) for r in mine], means, marker="o", capsize=4, label=platform,
                      yerr=[[m - b[0] for m, b in zip(means, bounds)], [b[1] - m for m, b in zip(means, bounds)]])
    axes.set_xlabel(axis)
    axes.set_ylabel("mean test accuracy (95% CI)")
    axes.yaxis.set_major_formatter(percent())
    if len(platforms) > 1:
        axes.legend(fontsize=8, frameon=False)
    return (f"Mean test accuracy over seeds against {axis}, with its 95% interval, for "
            f"{', '.join(platforms)}.")
