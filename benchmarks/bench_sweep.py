"""Benchmark: an 8-cell sweep (the 1-layer model, 1 epoch of MNIST, seeds 1-8) three ways:
one cell after another (a loop of `portability run`, TensorFlow's default threads), `portability run
--seeds` on a Dask LocalCluster with a fresh Python process per cell (`--fresh-processes`), and the
same on warm Dask workers (the default: TensorFlow and the data loaded once per worker).

Prints, for each: wall seconds, cells per hour, the speedup over one after another, and the training
efficiency: the cells' summed training CPU seconds / (wall seconds x cores), the share of the machine
that went into training. Under each, where all the machine's core-seconds (wall x cores) went: the
cells' phases from their results.json (training, imports, data, evaluation, saving, model and record),
what ran outside the runs (the CLI, Dask's scheduler and workers, interpreter starts: the CPU seconds of
the whole process tree less the phases) and the cores left idle. Also the machine (CPU model and vector
flags) and whether the warm workers gave each seed the fresh processes' weights. Each side uses its own
empty run store.

`--train-images N` trains each cell on the first N images only: a quick check that the benchmark runs,
not a measurement.

usage: python benchmarks/bench_sweep.py [--cells 8] [--threads 1] [--model 1-layer] [--train-images N]
"""

import argparse
import json
import os
import pathlib
import platform
import resource
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


def machine():
    """The CPU model and the vector extensions TensorFlow's kernels use: the figures depend on them."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model in ("", platform.machine(), "x86_64"):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    vector = [f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile") if f in flags]
    return f"{model}; {os.cpu_count()} cores; {' '.join(vector) or 'no AVX flags read'}"


PHASES = (("training", ("training",)), ("imports", ("import",)), ("data", ("data",)), ("evaluation", ("evaluation",)),
          ("saving", ("saving",)), ("model and record", ("model", "record")))


def measure(label, store, cells, command):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)  # every process of the tree, once waited for
    started = time.perf_counter()
    command()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    runs = complete_runs(store)
    if len(runs) != cells:
        sys.exit(f"{label}: expected {cells} complete runs, got {len(runs)}")
    phases = {name: sum(r["cpu_seconds"].get(key, 0.0) for r in runs for key in keys) for name, keys in PHASES}
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    cores = os.cpu_count() or 1
    phases["outside the runs"] = max(0.0, cpu - sum(phases.values()))
    phases["idle"] = max(0.0, wall * cores - cpu)
    return {"label": label, "wall": wall, "cells_per_hour": cells / wall * 3600,
            "efficiency": phases["training"] / (wall * cores), "core_seconds": wall * cores, "phases": phases,
            "weights": {r["config"]["seed"]: r["weights_sha256"] for r in runs}}


def breakdown(figures):
    """Where the core-seconds went: `  of 92.8 core-seconds: training 70.1 (76%), imports 4.5 (5%), ...`."""
    total = figures["core_seconds"]
    return f"  of {total:.1f} core-seconds: " + ", ".join(
        f"{name} {seconds:.1f} ({seconds / total:.0%})" for name, seconds in figures["phases"].items())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow threads per Dask cell")
    parser.add_argument("--model", default="1-layer")
    parser.add_argument("--train-images", type=int, help="train on the first N images only (a quick check, not a measurement)")
    args = parser.parse_args()
    config = ["--preset", "mnist-reference", "--model", args.model,
              *(["--max-train-samples", args.train_images] if args.train_images else [])]
    seeds = ["--seeds", f"1-{args.cells}", "--threads", args.threads]
    workers = max(1, (os.cpu_count() or 1) // args.threads)
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as fresh, \
            tempfile.TemporaryDirectory() as warm:
        figures = [
            measure("one after another (default threads)", one, args.cells, lambda: [
                portability("run", *config, "--seed", seed, "--quiet", store=one) for seed in range(1, args.cells + 1)]),
            measure(f"Dask, {workers} x {args.threads} thread(s), fresh processes", fresh, args.cells,
                    lambda: portability("run", *config, *seeds, "--fresh-processes", store=fresh)),
            measure(f"Dask, {workers} x {args.threads} thread(s), warm workers", warm, args.cells,
                    lambda: portability("run", *config, *seeds, store=warm)),
        ]
    images = f"the first {args.train_images} images of MNIST (a quick check, not a measurement)" if args.train_images \
        else "MNIST"
    print(f"{args.cells} cells: {args.model} model, 1 epoch of {images}, seeds 1-{args.cells}")
    print(f"machine: {machine()}")
    base = figures[0]["wall"]
    for f in figures:
        print(f"{f['label']:<45} {f['wall']:7.1f} s {f['cells_per_hour']:7.0f} cells/hour "
              f"{base / f['wall']:5.2f}x  training efficiency {f['efficiency']:4.0%}")
        print(breakdown(f))
    same = figures[1]["weights"] == figures[2]["weights"]
    print(f"warm workers give each seed the fresh processes' weights: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
