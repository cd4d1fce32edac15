"""The comparison report from run folders made here: real tiny runs locally and in the platforms'
emulations, a CV run on OpenML's small task, a packaged-only platform, a failing and a damaged run."""

import concurrent.futures
import html
import json
import shutil
import subprocess

import pytest

from report import codediff
from tests import openml_cache
from adapters import bundle
from tests.conftest import ROOT, portability, synthetic_images

TINY = ["--model", "1-layer", "--epochs", "2", "--batch-size", "64", "--target-accuracy", "0.5"]


@pytest.fixture(scope="module")
def store(tmp_path_factory, tiny_npz):
    root = tmp_path_factory.mktemp("report")
    images, labels = synthetic_images(200, seed=3)
    cache = openml_cache.build(root / "openml", 990001, 990002, "tiny-digits", images[..., 0], labels)
    env = {"PORTABILITY_RUNS_DIR": str(root / "runs"), "PORTABILITY_KAGGLE_DATASET": "tester/tiny",
           "PORTABILITY_OPENML_TASK": "990001", "OPENML_CACHE_DIR": str(cache), "COMET_API_KEY": "",
           "HTTPS_PROXY": "http://127.0.0.1:9"}
    streams = [[["run", "--dataset", tiny_npz, *TINY], ["emulate", "docker", "--dataset", tiny_npz, *TINY],
                ["push", "comet", "--wait", "--dataset", tiny_npz, *TINY]],
               [["emulate", "kaggle", "--dataset", tiny_npz, *TINY],
                ["push", "openml", "--wait", "--dataset", tiny_npz, *TINY[:-1], "0.99"],
                ["run", "--dataset", tiny_npz, *TINY]]]

    def run_steps(steps):  # one after another; the two streams side by side, one per core
        for step in steps:
            done = portability(*step, env=env)
            assert done.returncode == 0, (step, done.stderr[-2000:])

    with concurrent.futures.ThreadPoolExecutor(len(streams)) as pool:
        for stream in [pool.submit(run_steps, steps) for steps in streams]:
            stream.result()
    damaged = root / "runs" / "docker" / "damaged-run"
    damaged.mkdir(parents=True)
    (damaged / "results.json").write_text("{not json")
    partial = root / "runs" / "kaggle" / "partial-run"
    partial.mkdir(parents=True)
    (partial / "results.json").write_text(json.dumps({"schema_version": 1, "run_id": "x"}))
    return root, env


def test_report_rows_verdicts_and_problems(store, monkeypatch):
    root, env = store
    done = portability("report", "--out", root / "out", env=env)
    assert done.returncode == 0, done.stderr
    import pathlib

    import report

    runs_root = pathlib.Path(env["PORTABILITY_RUNS_DIR"])
    data = report.build(runs_root, [], root / "out2")
    rows = {row["platform"]: row for row in data["rows"]}
    assert list(rows) == ["local", "docker", "kaggle", "codalab", "comet", "openml", "beat"]  # the registry's order
    assert rows["local"]["obtained"] == "executed"  # an offline Comet run trained here and reached no server
    assert rows["comet"]["obtained"] == "executed here, Comet archive saved (not uploaded)"
    assert rows["openml"]["obtained"].startswith("executed here, ")  # published or not, said
    assert rows["docker"]["obtained"] == "emulated" and rows["kaggle"]["obtained"] == "emulated"
    assert rows["codalab"]["obtained"] in ("packaged", "not built") and rows["codalab"]["results"] is None
    for name in ("docker", "kaggle", "comet"):  # same machine, same config: identical to local
        assert rows[name]["verdict"] == "pass" and rows[name]["delta"] == 0 and rows[name]["same_weights"] is True
    assert rows["openml"]["protocol"] == "10-fold CV" and rows["openml"]["verdict"] == "fail"
    assert rows["openml"]["delta"] is None  # another protocol and target: not compared with local
    assert rows["openml"]["platform_note"] == "not published: no API key yet"  # an offline run is not a published one
    import adapters

    for name, row in rows.items():  # how sure each row is, from the one place that says it
        assert row["tested_against"] == adapters.TESTED_AGAINST[name]
    assert rows["openml"]["tested_against"] == "stand-in checked against recorded genuine responses"
    assert "stand-in checked against recorded genuine responses" in (root / "out2" / "report.md").read_text()
    assert any("damaged-run: results.json unreadable" in p for p in data["problems"])
    assert any("partial-run: results.json incomplete" in p for p in data["problems"])
    repro = data["reproducibility"]
    assert repro and repro[0]["bit_identical"] and repro[0]["runs"] >= 5
    markdown = (root / "out" / "report.md").read_text()
    assert "| local | executed | tiny.npz | 1-layer | 2 | holdout |" in markdown
    speed = rows["local"]["results"]["throughput"]["phases"]["train"]  # the speed column: from the throughput
    assert rows["local"]["images_per_second"] == speed["images"] / speed["seconds"] and rows["local"]["device"] == "CPU"
    assert "| training images/s |" in markdown and f"| {rows['local']['images_per_second']:,.0f} |" in markdown
    assert "## Problems" in markdown and "Cross-validation rows report the mean over folds" in markdown
    failing = portability("report", "--out", root / "out", "--fail-under", env=env)
    assert failing.returncode == 1 and "gate: openml: the report's row misses its target (0.7643 < 0.99)" in failing.stderr
    pushed = root / "runs" / "codalab" / "20261122-120000-failed"  # pushed, but it brought nothing back
    pushed.mkdir(parents=True)
    (pushed / "status.json").write_text(json.dumps([{"time": "2026-11-22T12:00:00Z", "state": "failed"}]))
    try:
        again = report.build(runs_root, [], root / "out3")
        row = next(row for row in again["rows"] if row["platform"] == "codalab")
        assert row["obtained"] == "failed, no result" and row["results"] is None
        assert any("20261122-120000-failed: no results.json (state: failed)" in p for p in again["problems"])
        assert "| codalab | failed, no result | – |" in (root / "out3" / "report.md").read_text()
    finally:
        shutil.rmtree(pushed)


def test_every_markdown_table_renders_with_its_rows(store):
    """report.md parsed as Markdown (markdown-it, CommonMark + tables): each table has a header and rows,
    and no line of pipes is left as a paragraph."""
    from markdown_it import MarkdownIt

    root, env = store
    done = portability("report", "--out", root / "md", env=env)
    assert done.returncode == 0, done.stderr
    tokens = MarkdownIt("commonmark").enable("table").parse((root / "md" / "report.md").read_text())
    tables, rows, stray = 0, {}, []
    for index, token in enumerate(tokens):
        if token.type == "table_open":
            tables += 1
        if token.type == "tbody_open":
            rows[tables] = 0
        if token.type == "tr_open" and tables in rows:
            rows[tables] += 1
        if token.type == "inline" and tokens[index - 1].type == "paragraph_open" and token.content.startswith("|"):
            stray.append(token.content[:80])
    assert tables >= 2 and all(rows.get(number, 0) >= 1 for number in range(1, tables + 1)), rows
    assert stray == [], stray


def test_diff_counts_match_the_generated_files(store):
    root, env = store
    for name in ("docker", "kaggle", "openml", "comet"):
        diff = codediff.platform_diff(name)
        assert sum(diff["counts"].values()) > 0
        shown = portability("diff", name)
        assert shown.returncode == 0
        assert shown.stdout.strip().splitlines()[-1].startswith(
            "changed lines: " + ", ".join(f"{g} {c}" for g, c in diff["counts"].items()))
    docker = codediff.platform_diff("docker")
    # data_folder: 2 lines; script_inputs (a user's own script's --data items): 3
    assert docker["counts"]["data access"] == 5 and docker["manifests"]["Dockerfile"] > 10
    assert docker["functions"] == {"data_folder": ("data access", ""), "output_folder": ("result upload", ""),
                                   "run_details": ("result upload", ""), "script_inputs": (
                                       "data access", "Your own script's --data items: each mounted read-only at /data/<name>.")}
    kaggle = codediff.platform_diff("kaggle")
    assert kaggle["embedded_core_lines"] == sum(len((ROOT / "core" / f).read_text().splitlines()) for f in bundle.CORE_FILES)
    assert kaggle["functions"]["data_folder"][0] == "data access" and kaggle["functions"]["read_csv_table"][0] == "data access"
    assert kaggle["functions"]["output_folder"][0] == "result upload"
    assert kaggle["counts"]["manifest files"] > 0  # kernel-metadata.json
    assert all(not line.startswith("+BUNDLE[") for line in kaggle["diff"])  # the diff shows code, not the carrier
    assert portability("diff", "local").returncode == 2


CHECKS = """<pre id="checks"></pre><script>
window.addEventListener("load", () => {
  const answer = document.getElementById("answer-table").getBoundingClientRect().bottom;
  document.querySelectorAll("details").forEach(d => { d.open = true; });
  document.getElementById("checks").textContent = JSON.stringify({
  rows: document.querySelectorAll("#results tbody tr").length,
  cells: document.querySelectorAll("#results tbody tr:first-child td").length,
  figures: [...document.querySelectorAll("figure")].map(f => [f.id, f.querySelector("img").complete
    && f.querySelector("img").naturalWidth > 100, (f.querySelector("figcaption") || {}).textContent || ""]),
  side_by_side: document.querySelectorAll("table.diff").length,
  groups: [...document.querySelectorAll("details.group")].map(d => d.dataset.group),
  summaries: [...document.querySelectorAll("details.group > summary")].map(s => s.textContent),
  overflowing: [...document.querySelectorAll("details.group, .line")].filter(e => e.scrollWidth > e.clientWidth + 1
    || e.getBoundingClientRect().right > window.innerWidth).length,
  lines: document.querySelectorAll(".line").length,
  changes: document.querySelectorAll("#code-changes tbody tr").length,
  answer: document.querySelectorAll("#answer-table tbody tr").length,
  answer_in_first_screen: answer < 900}); });
</script></body>"""


def chromium(*args, tmp_path):
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("chromium is not installed: .ci/run installs Debian's chromium for this test")
    return subprocess.run([binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={tmp_path / 'profile'}", *args], capture_output=True, text=True, timeout=120)


def test_html_renders_in_headless_chromium(store, tmp_path, artifacts):
    """The page as a browser draws it: the answer in the first screen, every plot drawn with its caption,
    each platform's changes folded by group under a summary with its count, long lines wrapped (nothing
    wider than the window, every group unfolded). A screenshot is kept for a person to look at."""
    root, env = store
    assert portability("report", "--out", root / "out", env=env).returncode == 0
    page = (root / "out" / "report.html").read_text()
    probe = tmp_path / "probe.html"  # the page plus a script that reports what the browser rendered
    probe.write_text(page.replace("</body>", CHECKS))
    dom = chromium("--window-size=1200,900", "--virtual-time-budget=10000", "--dump-dom", probe.as_uri(), tmp_path=tmp_path)
    rendered = json.loads(html.unescape(dom.stdout.split('<pre id="checks">')[1].split("</pre>")[0]))
    assert [(name, drawn) for name, drawn, _ in rendered.pop("figures")] == [
        ("plot-curves", True), ("plot-accuracy", True), ("plot-speed", True)], dom.stderr[-2000:]
    diffs = [codediff.platform_diff(name) for name in ("docker", "kaggle", "codalab", "comet", "openml", "beat")]
    expected = [group for diff in diffs for group in codediff.GROUPS if diff["counts"][group]]
    assert rendered.pop("groups") == expected
    summaries = rendered.pop("summaries")
    assert summaries[0].startswith(f"data access: {diffs[0]['counts']['data access']} changed lines in data_folder")
    assert rendered.pop("lines") > 1000
    assert rendered == {"rows": 7, "cells": 17, "side_by_side": 0, "overflowing": 0, "changes": 6, "answer": 7,
                        "answer_in_first_screen": True}, dom.stderr[-2000:]
    shot = artifacts / "report.png"
    done = chromium("--window-size=1400,2400", f"--screenshot={shot}", (root / "out" / "report.html").as_uri(),
                    tmp_path=tmp_path)
    assert shot.is_file() and shot.stat().st_size > 20_000, done.stderr[-2000:]
    print(f"screenshot of report.html: {shot}")


def test_every_plot_has_a_caption_saying_what_it_shows(store):
    root, env = store
    assert portability("report", "--out", root / "captions", env=env).returncode == 0
    markdown = (root / "captions" / "report.md").read_text()
    page = (root / "captions" / "report.html").read_text()
    for name in ("curves", "accuracy", "speed"):
        image = f"![{name}](plots/{name}.png)"
        assert image in markdown and markdown.split(image)[1].lstrip().startswith("*")  # its caption, under it
        assert f'<figure id="plot-{name}">' in page and (root / "captions" / "plots" / f"{name}.png").is_file()
    caption = markdown.split("![curves](plots/curves.png)")[1].strip().splitlines()[0]
    # 2-epoch runs without a validation set: a point per 32-step chunk, identical platforms named together
    assert caption == ("*Training accuracy of each 32-step chunk (lines); these runs held out no validation set; "
                       "5 platform(s) in 2 distinct curve(s): local, docker, kaggle, comet; openml.*")
    accuracy = markdown.split("![accuracy](plots/accuracy.png)")[1].strip().splitlines()[0]
    assert "one run each" in accuracy and "dashed: the target (50.00%, 99.00%)" in accuracy


def test_committed_docs_are_fresh():
    from report import docs

    assert docs.write_all(check_only=True) == [], "docs/ is stale: run `portability docs`"
    kaggle = (codediff.PLATFORMS_DIR.parent / "docs/platforms/kaggle.md").read_text()
    assert "## Code changes against local (generated)" in kaggle and "| data access |" in kaggle
