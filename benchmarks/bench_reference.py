"""Benchmark: the reference experiment through `portability run` against a plain Keras script.

Both train the same CNN for 1 epoch on the same verified MNIST files, one after the other, `--repeat`
pairs, alternating the order. CPU seconds (user+sys of the whole process) are the figure to compare on
shared machines; wall time is printed too. For the training phase: images per second and achieved
GFLOP/s (the model's FLOPs counted from its layers, see core/throughput.py), also as a share of this
machine's float32 matmul peak, measured here. CPU seconds per phase: the harness's from its
results.json, the plain script's printed by it.

`--full-import` runs the harness with PORTABILITY_FULL_IMPORT=1 (Keras imported with pandas,
matplotlib and scikit-learn, as the plain script does): the import lever alone.

`--train-images N` trains both on the first N images only: a quick check that the benchmark runs,
not a measurement.

usage: python benchmarks/bench_reference.py [--repeat N] [--full-import] [--train-images N]
"""

import argparse
import json
import os
import pathlib
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
BIN = pathlib.Path(sys.executable).parent


def measure(command, env=None):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})})
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{command[0]} failed:\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


PEAK = """
import time, tensorflow as tf
a, b = tf.random.uniform((2048, 2048)), tf.random.uniform((2048, 2048))
tf.linalg.matmul(a, b).numpy()
times = []
for _ in range(7):
    started = time.perf_counter(); tf.linalg.matmul(a, b).numpy(); times.append(time.perf_counter() - started)
print(2 * 2048 ** 3 / min(times) / 1e9)
"""


def peak_gflops():
    """The best of seven 2048x2048 float32 matmuls through TensorFlow: what these cores can do."""
    done = subprocess.run([sys.executable, "-c", PEAK], capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return float(done.stdout.strip().splitlines()[-1])


PHASES = ("import", "data", "training", "evaluation", "saving", "other")


def harness_phases(results):
    """CPU seconds per phase from results.json; `import` includes the interpreter's start and the
    CLI, `other` is what no phase covers (model building, records, the run store)."""
    cpu = results["cpu_seconds"]
    phases = {name: cpu.get(name, 0.0) for name in PHASES[1:5]}
    phases["import"] = cpu["process"] - sum(v for k, v in cpu.items() if k not in ("process", "import"))
    phases["other"] = cpu.get("model", 0.0) + cpu.get("record", 0.0)
    return phases


def plain_phases(stdout):
    phases = dict.fromkeys(PHASES, 0.0)
    for name, value in re.findall(r"(\w+)=([0-9.]+)", stdout.split("cpu seconds", 1)[1]):
        phases[name] = float(value)
    return phases


def run_pair(index, mnist, tmp, harness_env, train_images=None):
    """One run of each, the order alternating; rows of (wall, cpu, accuracy, images/s, phases)."""
    order = ["plain Keras script", "portability run"] if index % 2 else ["portability run", "plain Keras script"]
    rows, flops = {}, None
    for name in order:
        if name == "portability run":
            out = pathlib.Path(tmp) / f"run{index}"
            subset = ["--max-train-samples", str(train_images)] if train_images else []
            wall, cpu, _ = measure([str(BIN / "portability"), "run", "--preset", "mnist-reference", *subset,
                                    "--quiet", "--data-dir", str(mnist), "--out", str(out)], harness_env)
            results = json.loads((out / "results.json").read_text())
            accuracy, phases = results["test"]["accuracy"], harness_phases(results)
            flops = results["throughput"]["training_flops_per_image"]
            rate = results["throughput"]["phases"]["train"]["images_per_second"]
        else:
            subset = [str(train_images)] if train_images else []
            wall, cpu, stdout = measure([sys.executable, str(HERE / "plain_keras_mnist.py"), str(mnist), *subset])
            accuracy = float(re.search(r"test accuracy ([0-9.]+)", stdout).group(1))
            rate = (train_images or 60000) / float(re.search(r"fit seconds ([0-9.]+)", stdout).group(1))
            phases = plain_phases(stdout)
        rows[name] = (wall, cpu, accuracy, rate, phases)
        print(f"  {name:<20} wall {wall:6.1f} s   cpu {cpu:6.1f} s   training {rate:6.0f} images/s   "
              f"test accuracy {accuracy:.4f}", flush=True)
    return rows, flops


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--full-import", action="store_true", help="the harness imports Keras with its optional integrations")
    parser.add_argument("--train-images", type=int, help="train on the first N images only (a quick check, not a measurement)")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent))
    from core import datasets

    mnist = datasets.fetch("mnist")
    pairs = []
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(args.repeat):
            rows, flops = run_pair(index, mnist, tmp, {"PORTABILITY_FULL_IMPORT": "1"} if args.full_import else {},
                                   args.train_images)
            pairs.append(rows)
    report(pairs, flops, peak_gflops(), args.train_images)


def report(pairs, flops, peak, train_images=None):
    names = ("portability run", "plain Keras script")
    print(f"\nreference CNN, MNIST, 1 epoch, batch 128, Adam; median of {len(pairs)} runs each"
          + (f" (first {train_images:,} training images only: a check, not a measurement)" if train_images else ""))
    print(f"{'':<20} {'wall s':>8} {'cpu s':>8} {'accuracy':>9} {'images/s':>9} {'GFLOP/s':>8} {'of peak':>8}")
    for name in names:
        medians = [statistics.median(pair[name][i] for pair in pairs) for i in range(4)]
        gflops = medians[3] * flops / 1e9
        print(f"{name:<20} {medians[0]:>8.1f} {medians[1]:>8.1f} {medians[2]:>9.4f} "
              f"{medians[3]:>9.0f} {gflops:>8.1f} {gflops / peak:>8.1%}")
    print(f"this machine's float32 matmul peak: {peak:.1f} GFLOP/s; training FLOPs per image: {flops:,}")

    def ratio(i):  # the median of the pairs' ratios: each pair ran back to back, on the same load
        return statistics.median(pair[names[0]][i] / pair[names[1]][i] for pair in pairs)
    print(f"ratio harness/plain (median of pairs): wall {ratio(0):.3f}, cpu {ratio(1):.3f}, "
          f"training speed {ratio(3):.3f} (issue 29's target: cpu <= 0.7)")
    print("CPU seconds per phase (median)   " + " ".join(f"{k:>10}" for k in PHASES))
    for name in names:
        print(f"  {name:<30} " + " ".join(f"{statistics.median(p[name][4][k] for p in pairs):>10.2f}" for k in PHASES))


if __name__ == "__main__":
    main()
