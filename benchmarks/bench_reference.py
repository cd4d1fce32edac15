"""Benchmark: the reference experiment through `portability run` against a plain Keras script.

Both train the same CNN for 1 epoch on the same verified MNIST files, one after the other, `--repeat`
times each, alternating the order. CPU seconds (user+sys of the whole process) are the figure to
compare on shared machines; wall time is printed too. The harness's own breakdown comes from its
results.json (import, data, training, evaluation, saving).

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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent))
    from core import datasets

    mnist = datasets.fetch("mnist")
    rows = {"portability run": [], "plain Keras script": []}
    breakdowns = []
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
                else:
                    wall, cpu, stdout = measure([sys.executable, str(HERE / "plain_keras_mnist.py"), str(mnist)])
                    accuracy = float(re.search(r"test accuracy ([0-9.]+)", stdout).group(1))
                rows[name].append((wall, cpu, accuracy))
                print(f"  {name:<20} wall {wall:6.1f} s   cpu {cpu:6.1f} s   test accuracy {accuracy:.4f}", flush=True)

    print(f"\nreference CNN, MNIST, 1 epoch, batch 128, Adam; median of {args.repeat} runs each")
    print(f"{'':<20} {'wall s':>8} {'cpu s':>8} {'accuracy':>9}")
    medians = {}
    for name, values in rows.items():
        medians[name] = [statistics.median(v[i] for v in values) for i in range(3)]
        print(f"{name:<20} {medians[name][0]:>8.1f} {medians[name][1]:>8.1f} {medians[name][2]:>9.4f}")
    harness, plain = medians["portability run"], medians["plain Keras script"]
    print(f"ratio harness/plain: wall {harness[0] / plain[0]:.3f}, cpu {harness[1] / plain[1]:.3f} "
          "(the budget is 1.05)")
    keys = ("import", "data", "training", "evaluation", "saving", "total")
    print("harness breakdown (wall s, median): " + ", ".join(
        f"{k} {statistics.median(b[k] for b in breakdowns):.2f}" for k in keys))


if __name__ == "__main__":
    main()
