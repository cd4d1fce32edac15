"""Benchmark: an 8-cell sweep (the 1-layer model, 1 epoch of MNIST, seeds 1-8) run one cell after
another, as a loop of `portability run` with TensorFlow's default threads, against `portability sweep`
on an embedded Dask LocalCluster (cores / threads workers, `--threads` TensorFlow threads per cell).
Prints wall time, cells per hour and the speedup, and checks both produced 8 complete runs. Each side
uses its own empty run store, so nothing is skipped.

usage: python benchmarks/bench_sweep.py [--cells 8] [--threads 1] [--model 1-layer]
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

BIN = pathlib.Path(sys.executable).parent


def portability(*args, store):
    done = subprocess.run([str(BIN / "portability"), *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "PORTABILITY_RUNS_DIR": str(store), "TF_CPP_MIN_LOG_LEVEL": "2"})
    if done.returncode != 0:
        sys.exit(f"portability {' '.join(map(str, args))} failed:\n{done.stderr[-2000:]}")
    return done


def complete_runs(store):
    runs = [json.loads(path.read_text()) for path in pathlib.Path(store).glob("local/*/results.json")]
    return [r for r in runs if r.get("artifacts", {}).get("status") == "saved"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow threads per Dask cell")
    parser.add_argument("--model", default="1-layer")
    args = parser.parse_args()
    config = ["--preset", "mnist-reference", "--model", args.model]
    with tempfile.TemporaryDirectory() as sequential, tempfile.TemporaryDirectory() as parallel:
        started = time.perf_counter()
        for seed in range(1, args.cells + 1):
            portability("run", *config, "--seed", seed, "--quiet", store=sequential)
        one_by_one = time.perf_counter() - started
        started = time.perf_counter()
        portability("run", *config, "--seeds", f"1-{args.cells}", "--threads", args.threads, store=parallel)
        on_dask = time.perf_counter() - started
        counts = len(complete_runs(sequential)), len(complete_runs(parallel))
        accuracies = [sorted(round(r["test"]["accuracy"], 4) for r in complete_runs(s)) for s in (sequential, parallel)]
    if counts != (args.cells, args.cells):
        sys.exit(f"expected {args.cells} complete runs on each side, got {counts}")
    workers = max(1, (os.cpu_count() or 1) // args.threads)
    print(f"{args.cells} cells: {args.model} model, 1 epoch of MNIST, seeds 1-{args.cells}; {os.cpu_count()} cores")
    print(f"one after another (default threads): {one_by_one:7.1f} s  {args.cells / one_by_one * 3600:6.0f} cells/hour")
    print(f"Dask, {workers} workers x {args.threads} thread(s): {on_dask:7.1f} s  {args.cells / on_dask * 3600:6.0f} cells/hour")
    print(f"speedup: {one_by_one / on_dask:.2f}x")
    print(f"test accuracies, one after another: {accuracies[0]}")
    print(f"test accuracies, Dask:              {accuracies[1]}  (other thread count: other weights)")


if __name__ == "__main__":
    main()
