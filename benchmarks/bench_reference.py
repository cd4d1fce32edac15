"""Benchmark: the reference experiment through `portability run` against a plain Keras script.

Both train the same CNN for 1 epoch on the same verified MNIST files, one after the other, `--repeat`
pairs, alternating the order. CPU seconds (user+sys of the whole process) are the figure to compare on
shared machines; wall time is printed too. For the training phase: images per second and achieved
GFLOP/s (the model's FLOPs counted from its layers, see core/throughput.py), also as a share of this
machine's float32 matmul peak, measured here. The harness's breakdown comes from its results.json.

usage: python benchmarks/bench_reference.py [--repeat N]
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


def measure(command):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent))
    from core import datasets

    mnist = datasets.fetch("mnist")
    rows = {"portability run": [], "plain Keras script": []}
    breakdowns, flops = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(args.repeat):
            order = ["plain Keras script", "portability run"] if index % 2 else ["portability run", "plain Keras script"]
            for name in order:
                if name == "portability run":
                    out = pathlib.Path(tmp) / f"run{index}"
                    wall, cpu, stdout = measure([str(BIN / "portability"), "run", "--preset", "mnist-reference",
                                                 "--quiet", "--data-dir", str(mnist), "--out", str(out)])
                    results = json.loads((out / "results.json").read_text())
                    accuracy = results["test"]["accuracy"]
                    breakdowns.append(results["timings"])
                    flops = results["throughput"]["training_flops_per_image"]
                    rate = results["throughput"]["phases"]["train"]["images_per_second"]
                else:
                    wall, cpu, stdout = measure([sys.executable, str(HERE / "plain_keras_mnist.py"), str(mnist)])
                    accuracy = float(re.search(r"test accuracy ([0-9.]+)", stdout).group(1))
                    rate = 60000 / float(re.search(r"fit seconds ([0-9.]+)", stdout).group(1))
                rows[name].append((wall, cpu, accuracy, rate))
                print(f"  {name:<20} wall {wall:6.1f} s   cpu {cpu:6.1f} s   training {rate:6.0f} images/s   "
                      f"test accuracy {accuracy:.4f}", flush=True)

    peak = peak_gflops()
    print(f"\nreference CNN, MNIST, 1 epoch, batch 128, Adam; median of {args.repeat} runs each")
    print(f"{'':<20} {'wall s':>8} {'cpu s':>8} {'accuracy':>9} {'images/s':>9} {'GFLOP/s':>8} {'of peak':>8}")
    medians = {}
    for name, values in rows.items():
        medians[name] = [statistics.median(v[i] for v in values) for i in range(4)]
        gflops = medians[name][3] * flops / 1e9
        print(f"{name:<20} {medians[name][0]:>8.1f} {medians[name][1]:>8.1f} {medians[name][2]:>9.4f} "
              f"{medians[name][3]:>9.0f} {gflops:>8.1f} {gflops / peak:>8.1%}")
    harness, plain = medians["portability run"], medians["plain Keras script"]
    print(f"this machine's float32 matmul peak: {peak:.1f} GFLOP/s; training FLOPs per image: {flops:,}")
    print(f"ratio harness/plain: wall {harness[0] / plain[0]:.3f}, cpu {harness[1] / plain[1]:.3f}, "
          f"training speed {harness[3] / plain[3]:.3f} (the target is cpu <= 0.9)")
    keys = ("import", "data", "training", "evaluation", "saving", "total")
    print("harness breakdown (wall s, median): " + ", ".join(
        f"{k} {statistics.median(b[k] for b in breakdowns):.2f}" for k in keys))


if __name__ == "__main__":
    main()
