"""Property-based tests (Hypothesis) of the sweep's inputs: the seeds syntax, the grid-file parser and
the verdict's statistics. Whatever they are given: a clear refusal (UsageError, VerdictError: one line)
or a correct, finite result, never another exception."""

import json
import math

import hypothesis
from hypothesis import strategies as st

from core.errors import UsageError
from portability import grid
from report import verdict

SEED_TEXT = st.one_of(
    st.text(alphabet="0123456789-, ", max_size=14),
    st.text(max_size=8),
    st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), min_size=1, max_size=4).map(
        lambda ranges: ",".join(f"{a}-{b}" if a != b else str(a) for a, b in ranges)),
    st.sampled_from(["", "3-", "-3", "1-100000", "1-1" + "0" * 30, "1,,2", "²", "1 - 2", "0-0"]),
)


@hypothesis.settings(max_examples=400, deadline=None)
@hypothesis.given(SEED_TEXT)
def test_seeds_are_a_list_of_distinct_seeds_or_one_refusal(text):
    try:
        seeds = grid.parse_seeds(text)
    except UsageError as error:
        assert "\n" not in str(error) and "--seeds" in str(error)
        return
    assert seeds and len(seeds) == len(set(seeds)) <= grid.MAX_CELLS
    assert all(isinstance(seed, int) and seed >= 0 for seed in seeds)
    expected = set()
    for part in text.split(","):  # the written ranges, read independently
        low, _, high = part.strip().partition("-")
        expected |= set(range(int(low), int(high or low) + 1))
    assert set(seeds) == expected


VALUE = st.one_of(st.none(), st.booleans(), st.integers(-3, 2**33), st.floats(allow_nan=True, allow_infinity=True),
                  st.text(max_size=6), st.sampled_from(["mnist", "reference", "adam", "1-layer", "vgg"]))
AXIS_NAME = st.sampled_from(["seed", "epochs", "learning_rate", "model", "batch_size", "preset", "colour",
                             "target_accuracy", "validation_split"])
GRID = st.fixed_dictionaries({}, optional={
    "name": st.one_of(st.text(max_size=6), st.just("ok-grid"), st.integers()),
    "base": st.one_of(st.dictionaries(AXIS_NAME, VALUE, max_size=3), st.lists(VALUE, max_size=2), VALUE),
    "axes": st.one_of(st.dictionaries(AXIS_NAME, st.one_of(st.lists(VALUE, max_size=4), VALUE), max_size=3),
                      st.dictionaries(st.just("seed"), st.lists(st.integers(0, 5) | st.floats(0, 5), max_size=4))),
    "platforms": st.one_of(st.sampled_from(["ready", "all", "local", "colab"]),
                           st.lists(st.sampled_from(["local", "docker", "kaggle", "colab"]), max_size=3), VALUE),
    "margin": VALUE,
    "cells": VALUE,
})


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(GRID)
def test_grid_files_load_as_distinct_valid_cells_or_one_refusal(tmp_path_factory, values):
    path = tmp_path_factory.mktemp("grid") / "g.json"
    try:
        path.write_text(json.dumps(values, allow_nan=True))
    except ValueError:
        return
    try:
        loaded = grid.load(path)
    except UsageError as error:
        assert "\n" not in str(error) and str(error)
        return
    assert 0 < loaded.margin < 1
    if loaded.platforms == "ready":
        loaded.resolve_ready(lambda name: name == "local")
    cells = loaded.cells(threads=1)
    assert 0 < len(cells) <= grid.MAX_CELLS
    assert len({cell.id for cell in cells}) == len(cells)  # no two cells are one run
    for cell in cells:
        json.dumps(cell.to_dict(), allow_nan=False)  # strict JSON: finite numbers only


ACCURACY = st.one_of(st.floats(0, 1), st.sampled_from([0.0, 1.0, 0.98, 0.5]))
ANY_NUMBER = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5), st.booleans())


@hypothesis.settings(max_examples=400, deadline=None)
@hypothesis.given(st.lists(st.one_of(ACCURACY, ANY_NUMBER), max_size=12), st.one_of(ACCURACY, ANY_NUMBER))
def test_summary_is_finite_and_within_0_and_1_or_one_refusal(accuracies, target):
    try:
        stats = verdict.summary(accuracies, target)
    except verdict.VerdictError as error:
        assert "\n" not in str(error)
        return
    assert stats["n"] == len(accuracies) > 0 and 0 < stats["target"] <= 1
    assert min(accuracies) - 1e-12 <= stats["mean"] <= max(accuracies) + 1e-12
    assert stats["passing"] == sum(1 for a in accuracies if a >= target)
    if stats["ci"] is not None:
        low, high = stats["ci"]
        assert all(math.isfinite(v) for v in (low, high, stats["sd"]))
        assert 0 <= low <= stats["mean"] + 1e-12 and stats["mean"] - 1e-12 <= high <= 1
        assert stats["verdict"] in ("clears the target", "falls short", "straddles the target")
        assert stats["verdict"] != "clears the target" or low >= stats["target"]
    else:
        assert stats["n"] == 1 and stats["verdict"] == "one run: no interval"


@hypothesis.settings(max_examples=400, deadline=None)
@hypothesis.given(st.dictionaries(st.integers(0, 9), st.one_of(ACCURACY, ANY_NUMBER), max_size=8),
                  st.dictionaries(st.integers(0, 9), st.one_of(ACCURACY, ANY_NUMBER), max_size=8),
                  st.one_of(st.floats(0.0005, 0.2), ANY_NUMBER))
def test_compare_is_finite_and_consistent_or_one_refusal(local, other, margin):
    try:
        result = verdict.compare(local, other, margin)
    except verdict.VerdictError as error:
        assert "\n" not in str(error)
        return
    assert result["verdict"] in ("equivalent", "different", "inconclusive")
    assert result["seeds"] == sorted(set(local) & set(other)) and result["n"] == len(result["seeds"])
    if result["n"] < 2:
        assert result["verdict"] == "inconclusive" and result["difference"] is None
        return
    numbers = [result["difference"], *result["ci"], result["p_equivalence"], result["p_difference"]]
    assert all(math.isfinite(v) for v in numbers), result
    assert result["ci"][0] <= result["difference"] + 1e-12 <= result["ci"][1] + 2e-12
    if result["verdict"] == "equivalent":
        assert abs(result["difference"]) < margin


def test_ties_are_a_zero_spread_not_an_error():
    stats = verdict.summary([0.98, 0.98, 0.98], 0.98)
    assert stats["sd"] == 0 and stats["ci"] == (0.98, 0.98) and stats["verdict"] == "clears the target"
    same = verdict.compare({1: 0.9, 2: 0.8}, {1: 0.9, 2: 0.8}, 0.003)
    assert same["verdict"] == "equivalent" and same["difference"] == 0


def test_a_two_seed_interval_is_clipped_to_what_an_accuracy_can_be():
    stats = verdict.summary([0.5, 0.99], 0.98)  # t(0.975, 1) = 12.7: the raw interval is about -2.6 to 4.1
    assert stats["ci"] == (0.0, 1.0) and stats["ci_clipped"] and stats["verdict"] == "straddles the target"
    assert not verdict.summary([0.975, 0.98, 0.985], 0.98)["ci_clipped"]
