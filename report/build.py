"""`portability report`: one data structure, rendered to report.md and report.html by two templates
(report/templates/), so the two pages cannot say different things."""

import base64
import functools
import pathlib

from report import answer, codediff, collect, diffview, plots, sweeps

LEGEND = ("*executed*: ran on the platform; *emulated*: ran here in an emulation of the platform's runtime; "
          "*adapter tested against*: what this project's tests ran the adapter against (how sure the row is); "
          "*packaged*: built, not run; *<state>, no result*: pushed, but no results.json came back (see "
          "Problems). \"vs local\" and \"weights = local\" compare only runs with the local run's config and protocol.")
CV_NOTE = ("Cross-validation rows report the mean over folds of all 70,000 rows (or the task's rows), not a "
           "10,000-image holdout: compare them with holdout rows with care.")
SWEEP_NOTE = ("Each sweep cell is one run. The 95% CI is the t interval of the mean over seeds, clipped to 0-100% "
              "(an accuracy cannot leave it; a clipped interval is marked wide: too few seeds to say more). "
              "\"target\" says whether the mean's 95% interval clears the target, "
              "straddles it or falls short. \"verdict vs local\" pairs each seed with local's: EQUIVALENT when two "
              "one-sided tests put the difference within the margin, DIFFERENT when a paired t-test rejects no "
              "difference, else INCONCLUSIVE. Weights compare bit for bit only at the same thread count.")
COLUMNS = [("platform", "platform", "str"), ("obtained", "how obtained", "str"), ("dataset", "dataset", "str"),
           ("model", "model", "str"), ("epochs", "epochs", "str"), ("protocol", "protocol", "str"),
           ("accuracy", "test accuracy", "pct"), ("target", "target", "pct"), ("verdict", "verdict", "str"),
           ("delta", "vs local", "delta"), ("training_seconds", "training", "s"), ("hardware", "hardware", "str"),
           ("versions", "TF / Keras", "str"), ("same_weights", "weights = local", "bool"),
           ("images_per_second", "training images/s", "rate"), ("platform_note", "on the platform", "str"),
           ("tested_against", "adapter tested against", "str")]


def build(runs_root, manifests, out_dir, platforms_dir=codediff.PLATFORMS_DIR, problems=()):
    """Write report.md, report.html and the plots into `out_dir` for the runs under `runs_root` and the
    sweeps' (manifest, folder) pairs; return the data behind them. `problems`: lines the caller found
    (damaged sweep manifests), listed with the report's own."""
    out_dir = pathlib.Path(out_dir)
    data = model(pathlib.Path(runs_root), manifests, platforms_dir)
    data["problems"] += list(problems)
    figures = plots.plots(data["rows"], data["sweeps"])
    for section in data["sweeps"]:
        section["plots"] = plots.sweep_plots(section)
        figures.update(section["plots"])
    (out_dir / "plots").mkdir(parents=True, exist_ok=True)
    for name, drawn in figures.items():
        (out_dir / "plots" / f"{name}.png").write_bytes(drawn["png"])
    data["plots"] = {name: {"file": f"plots/{name}.png", "base64": base64.b64encode(drawn["png"]).decode(),
                            "caption": drawn["caption"]} for name, drawn in figures.items()}
    for section in data["sweeps"]:
        section["plots"] = {name: data["plots"].pop(name) for name in section["plots"]}
    (out_dir / "report.md").write_text(_template("report.md.j2").render(**data))
    (out_dir / "report.html").write_text(_template("report.html.j2").render(**data))
    return data


def model(runs_root, manifests, platforms_dir):
    """Everything either page shows, computed once."""
    found, problems = collect.collect(runs_root)
    rows, local = collect.pick_rows(found, platforms_dir, runs_root)
    diffs = [codediff.platform_diff(row["platform"], platforms_dir) for row in rows
             if row["platform"] != "local" and codediff.generated(row["platform"], platforms_dir)
             and codediff.generated("local", platforms_dir)]
    for diff in diffs:
        diff["html"] = diffview.html_view(diff, codediff.GROUPS, codediff.WHY)
        diff["markdown"] = diffview.markdown_view(diff, codediff.GROUPS, codediff.WHY)
        diff["unchanged"] = codediff.unchanged_files(diff)
    sections = [dict(section, cells_text=sweeps.table(section)) for section in sweeps.sections(manifests, runs_root)]
    problems += [f"{section['name']} (sweep): {problem}" for section in sections for problem in section["problems"]]
    problems += [f"{folder.name} (sweep): manifest.json {sweeps.manifest_problem(manifest)}: left out; "
                 "`portability sweep GRID` rewrites it" for manifest, folder in manifests if sweeps.manifest_problem(manifest)]
    return {"answer": answer.answer(rows, sections), "legend": LEGEND, "columns": [title for _, title, _ in COLUMNS], "rows": rows,
            "cells": [table_cells(row) for row in rows], "row_classes": [_row_class(row) for row in rows],
            "cv_note": CV_NOTE if any(r["results"] and "CV" in r["protocol"] for r in rows) else None,
            "local": local, "problems": problems, "reproducibility": collect.reproducibility(found),
            "drift": collect.drift(rows, local), "diffs": diffs, "groups": codediff.GROUPS, "own_code": codediff.own_code(rows),
            "sweeps": sections,
            "sweep_columns": sweeps.COLUMNS, "sweep_note": SWEEP_NOTE}


def _fmt(value, kind):
    if value is None:
        return "–"
    return {"pct": lambda v: f"{v:.2%}", "delta": lambda v: f"{v * 100:+.2f} pt", "s": lambda v: f"{v:.1f} s",
            "rate": lambda v: f"{v:,.0f}",
            "bool": lambda v: "yes" if v else "no"}.get(kind, str)(value)


def table_cells(row):
    if row["results"] is None:
        return [row["platform"], row["obtained"]] + ["–"] * (len(COLUMNS) - 3) + [row["tested_against"]]
    cells = [_fmt(row[key], kind) for key, _, kind in COLUMNS]
    cells[8] = row["verdict"].upper()
    return cells


def _row_class(row):
    if row["results"]:
        return row["verdict"]
    return row["obtained"].replace(" ", "-") if row["obtained"] in ("packaged", "not built") else "no-result"


def failing_rows(data):
    return [row for row in data["rows"] if row["results"] and row["verdict"] == "fail"]


@functools.cache
def _template(name):
    import jinja2

    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(pathlib.Path(__file__).parent / "templates"),
                                     autoescape=jinja2.select_autoescape(["html.j2"]), keep_trailing_newline=True,
                                     undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return environment.get_template(name)
