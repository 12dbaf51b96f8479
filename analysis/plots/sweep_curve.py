#!/usr/bin/env python3
"""A sweep as curves (the paper's Figure 2): a /sweep/table metric (default
final_test_accuracy) against a swept path, one line per sweep file, or per
value of another swept path with --by.

    sweep_curve.py runs/feedback_ratio.h5 [more.h5 ...] -o ratio.png [--x circuit.feedback_ratio]
    sweep_curve.py runs/figure2-mnist.h5 --by circuit.populations.downstream -o figure2.png
"""
import argparse
import pathlib
import sys

try:
    import counterstream
except ImportError:  # not on the path (scripts/lib.sh puts it there): this tree's build
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "build" / "python"))
    import counterstream
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
    ap.add_argument("--by", help="a swept path: one line per value")
    ap.add_argument("--title", help="the plot's title")
    args = ap.parse_args()
    fig, ax = plt.subplots(figsize=(6, 4))
    for path in args.files:
        rec = counterstream.open(path)
        t = rec.table
        params = rec.attributes("sweep/table")["parameters"]
        xname = args.x or next(p for p in params if p != args.by)
        x, z = t[xname].to_numpy().astype(float), t[args.metric].to_numpy().astype(float)
        groups = [t[args.by].to_numpy()] if args.by else [np.zeros(len(x))]
        keys = [str(k) for k in groups[0]]
        scale = 100 if "accuracy" in args.metric else 1
        for key in dict.fromkeys(keys):  # in table order
            rows = np.array([k == key for k in keys])
            order = np.argsort(x[rows])
            stem = pathlib.Path(path).stem
            label = (key if len(args.files) == 1 else f"{stem} {key}") if args.by else stem
            ax.plot(x[rows][order], z[rows][order] * scale, "o-", label=label)
        ax.set_xlabel(xname)
    ax.set_ylabel(args.metric + (" [%]" if "accuracy" in args.metric else ""))
    if args.title:
        ax.set_title(args.title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.output, dpi=150)


if __name__ == "__main__":
    main()
