"""A training step driven from Python against the same step in `counterstream run`.

    /usr/bin/python3 bench/python_step.py [--steps 200] [--rounds 3] [--threads 1] [--circuit models/circuits/sgd.yaml]

The paper's MLP (784-200-200-200-10, batch 256) on MNIST: `counterstream run`
with protocol.max_steps = STEPS prints its training samples/s (the steps
alone, evaluation excluded); the Python side builds the same network with
counterstream.Simulation and times STEPS calls of step(x, labels) on the same
batches (no shuffling, so both read samples 0, 1, 2, ...). The two alternate
ROUNDS times, so that a busy machine slows both alike, and the ratio of the
medians is printed. Needs MNIST (scripts/fetch-data mnist) and the module
on the path (scripts/test or scripts/demo put it there).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

import counterstream as cs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--circuit", default=os.path.join(ROOT, "models", "circuits", "sgd.yaml"))
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "counterstream"))
    args = ap.parse_args()
    sets = {"protocol.max_steps": args.steps, "protocol.epochs": 1, "protocol.shuffle": False,
            "protocol.batch_size": 256, "protocol.record": {"metrics_every": 0, "weights_every": 0}}
    cli_sets = [f"--set={k}={v}" if not isinstance(v, dict) else f"--set={k}={{metrics_every: 0, weights_every: 0}}"
                for k, v in sets.items()]
    cli_sets = [s.replace("False", "false") for s in cli_sets]

    data = cs.dataset(args.circuit, set=sets)
    x, y = data["train"]
    batches = [(x[256 * k:256 * (k + 1)], y[256 * k:256 * (k + 1)]) for k in range(args.steps)]

    cli_rates, py_rates = [], []
    for r in range(args.rounds):
        out = subprocess.run([args.binary, "run", args.circuit, *cli_sets, "-o", "/tmp/counterstream-python-step.h5",
                              "--overwrite", "--threads", str(args.threads)], capture_output=True, text=True,
                             check=True).stdout
        cli_rates.append(float(re.search(r"samples/s (\d+)", out).group(1)))

        sim = cs.Simulation(args.circuit, set=sets, threads=args.threads)
        t0 = time.perf_counter()
        for xb, yb in batches:
            sim.step(xb, yb)
        py_rates.append(256 * args.steps / (time.perf_counter() - t0))
        print(f"round {r + 1}: command line {cli_rates[-1]:.0f} samples/s, Python {py_rates[-1]:.0f} samples/s",
              flush=True)
    cli, py = statistics.median(cli_rates), statistics.median(py_rates)
    print(f"median: command line {cli:.0f}, Python {py:.0f} samples/s; a Python step costs "
          f"{100 * (cli / py - 1):+.1f}% against the command line's")
    os.remove("/tmp/counterstream-python-step.h5")


if __name__ == "__main__":
    sys.exit(main())
