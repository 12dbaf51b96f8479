#!/usr/bin/env python3
"""A 1-D sweep as a curve (the paper's Figure 2 panel): a /sweep/table metric
(default final_test_accuracy) against the swept path, one line per sweep file.

    sweep_curve.py runs/feedback_ratio.h5 [more.h5 ...] -o ratio.png [--x circuit.feedback_ratio]
"""
import argparse
import os
import pathlib

os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")
import h5py  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", help="counterstream sweep files (HDF5)")
    ap.add_argument("-o", "--output", required=True, help="PNG to write")
    ap.add_argument("--x", help="the swept path on the x axis (default: the first)")
    ap.add_argument("--metric", default="final_test_accuracy", help="a column of /sweep/table")
    args = ap.parse_args()
    fig, ax = plt.subplots(figsize=(6, 4))
    for path in args.files:
        with h5py.File(path, "r") as f:
            t = f["sweep/table"]
            params = [p.decode() if isinstance(p, bytes) else str(p) for p in t.attrs["parameters"]]
            xname = args.x or params[0]
            x, z = t[xname][...].astype(float), t[args.metric][...].astype(float)
        order = np.argsort(x)
        scale = 100 if "accuracy" in args.metric else 1
        ax.plot(x[order], z[order] * scale, "o-", label=pathlib.Path(path).stem)
        ax.set_xlabel(xname)
    ax.set_ylabel(args.metric + (" [%]" if "accuracy" in args.metric else ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.output, dpi=150)


if __name__ == "__main__":
    main()
