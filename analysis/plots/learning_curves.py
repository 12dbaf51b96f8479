#!/usr/bin/env python3
"""Learning curves: a metric (default test_accuracy) against epoch for several
recordings on one axis, labelled by file name.

    learning_curves.py runs/sal.h5 runs/sgd.h5 -o curves.png [--metric test_loss]
"""
import argparse
import os
import pathlib

os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")  # a running writer may hold the file
import h5py  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", help="counterstream recordings (HDF5)")
    ap.add_argument("-o", "--output", required=True, help="PNG to write")
    ap.add_argument("--metric", default="test_accuracy", help="a dataset under /metrics")
    args = ap.parse_args()

    fig, ax = plt.subplots(figsize=(6, 4))
    for path in args.files:
        with h5py.File(path, "r") as f:
            if f"metrics/{args.metric}" not in f or "metrics/epoch" not in f:
                print(f"{path}: no /metrics/{args.metric} or /metrics/epoch, skipped")
                continue
            epoch = f["metrics/epoch"][()]
            y = f[f"metrics/{args.metric}"][()]
        keep = np.isfinite(epoch) & np.isfinite(y)
        scale = 100.0 if args.metric.endswith("accuracy") else 1.0
        ax.plot(epoch[keep], scale * y[keep], marker="o", ms=3, label=pathlib.Path(path).stem)
    ax.set_xlabel("epoch")
    ax.set_ylabel(args.metric.replace("_", " ") + (" [%]" if args.metric.endswith("accuracy") else ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.output, dpi=150)


if __name__ == "__main__":
    main()
