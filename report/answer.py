"""The report's first screen: the answer in words, then one compact row per platform (how it ran,
accuracy, verdict against local, what it cost). Replicates, when a sweep has them, replace the single
run: the mean with its 95% interval and the statistical verdict."""

COLUMNS = ("platform", "how it ran", "accuracy", "vs local", "training", "images/s")


def answer(rows, sweeps):
    """{"text": the answer in words, "rows": the compact table's cells}."""
    replicated = latest_replicates(sweeps)
    table = [compact_row(row, replicated.get(row["platform"])) for row in rows]
    return {"text": sentence(rows, replicated), "rows": table, "columns": COLUMNS}


def latest_replicates(sweeps):
    """{platform: its row at the first point of the newest sweep that has it}."""
    found = {}
    for section in sweeps:
        for row in section["rows"]:
            if not row["point"] or row["point"] == section["rows"][0]["point"]:
                found[row["platform"]] = row
    return found


def compact_row(row, replicate):
    if row["results"] is None:
        return [row["platform"], row["obtained"], "–", "no result", "–", "–"]
    accuracy = f"{row['accuracy']:.2%}"
    versus = vs_local(row)
    if replicate and replicate["summary"]["n"] > 1:
        stats = replicate["summary"]
        low, high = (max(0.0, stats["ci"][0]), min(1.0, stats["ci"][1])) if stats["ci"] else (None, None)
        accuracy = f"{stats['mean']:.2%} over {stats['n']} seeds" + (f" (95% CI {low:.2%} to {high:.2%})" if low is not None else "")
        if replicate.get("comparison"):
            versus = replicate["comparison"]["verdict"].upper() + (f", {replicate['identical']} seeds bit-identical"
                                                                   if replicate.get("identical") else "")
    seconds = row.get("training_seconds")
    speed = row.get("images_per_second")
    return [row["platform"], row["obtained"], accuracy, versus, f"{seconds:.1f} s" if seconds is not None else "–",
            f"{speed:,.0f}" if speed else "–"]


def vs_local(row):
    if row["platform"] == "local":
        return "the baseline"
    if not row.get("comparable"):
        return "not compared (other config or protocol)"
    if row["same_weights"]:
        return "bit-identical weights"
    if row["delta"] == 0:
        return "same accuracy, other weights"
    return f"{row['delta'] * 100:+.2f} points"


def sentence(rows, replicated):
    ran = [row for row in rows if row["results"]]
    if not ran:
        return "No platform has a result yet: run `portability run`, then push or emulate on the platforms."
    local = next((row for row in ran if row["platform"] == "local"), None)
    if local is None:
        return (f"{len(ran)} of {len(rows)} platforms have a result, but there is no local run to compare them with: "
                "run `portability run` with the same config.")
    identical = [row["platform"] for row in ran if row["platform"] != "local" and row.get("same_weights")]
    differ = [row["platform"] for row in ran if row["platform"] != "local" and row.get("comparable")
              and not row.get("same_weights")]
    other = [row["platform"] for row in ran if row["platform"] != "local" and not row.get("comparable")]
    missing = [f"{row['platform']} ({row['obtained']})" for row in rows if not row["results"]]
    parts = [f"{len(identical) + 1} of {len(rows)} platforms give local's accuracy ({local['accuracy']:.2%}) with "
             f"bit-identical weights" + (f" (local, {', '.join(identical)})" if identical else " (local alone)")]
    if differ:
        parts.append(f"{', '.join(differ)} trained the same config to other weights")
    if other:
        parts.append(f"{', '.join(other)} ran another config or protocol: not compared")
    if missing:
        parts.append(f"no result from {', '.join(missing)}")
    if replicated:
        verdicts = [f"{name}: {row['comparison']['verdict']}" for name, row in replicated.items() if row.get("comparison")]
        if verdicts:
            parts.append("over seeds, against local: " + ", ".join(verdicts))
    return "; ".join(parts) + "."
