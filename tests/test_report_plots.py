"""The report's plots from rows as report/collect.py makes them: what each caption says it shows, the
step chunks' accuracies, identical curves sharing a line, and the intervals over seeds."""

import pytest

from report import plots


def chunk(step, epoch, fraction, accuracy):
    return {"step": step, "epoch": epoch, "epoch_fraction": fraction, "accuracy": accuracy, "loss": 1 - accuracy,
            "phase": "train"}


STEPS = [chunk(32, 1, 0.5, 0.6), chunk(64, 1, 1.0, 0.7), chunk(96, 2, 0.5, 0.9), chunk(128, 2, 1.0, 0.92)]


def row(platform, accuracy=0.95, steps=STEPS, validation=(0.8, 0.93), target=0.9):
    history = [{"epoch": e + 1, "accuracy": s["accuracy"], "loss": s["loss"], "val_accuracy": v, "seconds": e + 0.5 * len(platform)}
               for e, (s, v) in enumerate(zip(steps[1::2], validation))]
    results = {"history": history, "history_steps": steps, "throughput": {"steps_per_execution": 32},
               "environment": {"cpu_cores": 2}}
    return {"platform": platform, "results": results, "accuracy": accuracy, "target": target,
            "verdict": "pass" if accuracy >= target else "fail", "images_per_second": 1000.0, "device": "CPU"}


def test_a_chunks_accuracy_is_the_change_in_the_running_mean_over_its_steps():
    # epoch 1: 0.6 over the first half, 0.7 over the whole: the second half alone made 0.8
    points = plots.chunk_points(STEPS)
    assert [x for x, _ in points] == [0.5, 1.0, 1.5, 2.0]
    assert [y for _, y in points] == pytest.approx([0.6, 0.8, 0.9, 0.94])


def test_short_runs_are_drawn_per_chunk_with_validation_points_and_identical_curves_share_a_line():
    other = [dict(s, accuracy=s["accuracy"] - 0.1) for s in STEPS]
    figures = plots.plots([row("local"), row("docker"), row("kaggle", steps=other)])
    assert set(figures) == {"curves", "accuracy", "speed"}
    assert all(figure["png"].startswith(b"\x89PNG") for figure in figures.values())
    assert figures["curves"]["caption"] == (
        "Training accuracy of each 32-step chunk (lines) and validation accuracy at each epoch's end (diamonds); "
        "3 platform(s) in 2 distinct curve(s): local, docker; kaggle.")
    assert figures["accuracy"]["caption"].startswith("Test accuracy per platform: one run each;")
    assert "dashed: the target (90.00%)" in figures["accuracy"]["caption"]


def test_three_epochs_or_more_are_drawn_per_epoch():
    steps = STEPS + [chunk(160, 3, 0.5, 0.95), chunk(192, 3, 1.0, 0.96)]
    caption = plots.plots([row("local", steps=steps, validation=(0.8, 0.93, 0.95))])["curves"]["caption"]
    assert caption.startswith("Training accuracy at the end of each epoch (lines) and validation accuracy")


def test_replicates_give_the_mean_and_its_interval_the_others_a_point():
    sweep = {"rows": [{"platform": "local", "point": {}, "summary": {"n": 3, "mean": 0.94, "ci": (0.92, 0.96),
                                                                      "verdict": "clears the target", "target": 0.9}}]}
    figure = plots.figure(plots._accuracy, [row("local"), row("docker", accuracy=0.85)],
                          {"local": sweep["rows"][0]})
    assert figure["caption"].startswith("Test accuracy per platform: the mean over seeds with its 95% interval for "
                                        "local, one run's accuracy for the others;")
    assert plots.accuracy_point(row("local"), {"local": sweep["rows"][0]}) == (
        0.94, 0.92, 0.96, "94.00% (n=3)\n92.00% to 96.00%", "clears the target")
    assert plots.accuracy_point(row("docker", accuracy=0.85), {})[1:] == (0.85, 0.85, "85.00%", "fail")
