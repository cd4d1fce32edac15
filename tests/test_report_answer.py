"""The report's first screen: the answer in words and the compact table, from the rows and sweeps."""

from report import answer


def row(platform, accuracy=0.9814, same=True, comparable=True, obtained="executed", delta=0.0):
    results = {"test": {"accuracy": accuracy}}
    return {"platform": platform, "results": results, "obtained": obtained, "accuracy": accuracy,
            "comparable": comparable, "same_weights": same if comparable else None, "delta": delta if comparable else None,
            "training_seconds": 12.5, "images_per_second": 5000.0}


def test_the_answer_names_what_agrees_what_differs_and_what_is_missing():
    rows = [row("local"), row("docker", obtained="emulated"), row("kaggle", same=False, delta=-0.001),
            row("openml", comparable=False, obtained="executed"),
            {"platform": "codalab", "results": None, "obtained": "failed, no result"}]
    data = answer.answer(rows, [])
    assert data["text"].startswith("2 of 5 platforms give local's accuracy (98.14%) with bit-identical weights (local, docker)")
    assert "kaggle trained the same config to other weights" in data["text"]
    assert "openml ran another config or protocol: not compared" in data["text"]
    assert "no result from codalab (failed, no result)" in data["text"]
    cells = {cells[0]: cells for cells in data["rows"]}
    assert cells["docker"][3] == "bit-identical weights" and cells["kaggle"][3] == "-0.10 points"
    assert cells["codalab"][2:4] == ["–", "no result"] and cells["local"][4:] == ["12.5 s", "5,000"]


def test_replicates_replace_the_single_run_and_the_interval_stays_within_0_and_100_percent():
    rows = [row("local"), row("docker")]
    summary = {"n": 2, "mean": 0.97, "sd": 0.05, "ci": (0.52, 1.42)}
    sweeps = [{"rows": [{"platform": "local", "point": {}, "summary": summary, "comparison": None},
                        {"platform": "docker", "point": {}, "summary": summary,
                         "comparison": {"verdict": "equivalent"}, "identical": "2 of 2"}]}]
    data = answer.answer(rows, sweeps)
    cells = {cells[0]: cells for cells in data["rows"]}
    assert cells["docker"][2] == "97.00% over 2 seeds (95% CI 52.00% to 100.00%)"
    assert cells["docker"][3] == "EQUIVALENT, 2 of 2 seeds bit-identical"
    assert "over seeds, against local: docker: equivalent" in data["text"]


def test_no_run_and_no_local_run_say_what_to_do():
    assert "run `portability run`" in answer.answer([{"platform": "local", "results": None, "obtained": "not built"}], [])["text"]
    assert "no local run to compare" in answer.answer([row("docker")], [])["text"]
