#!/usr/bin/env python3
"""A 2-D sweep as a heatmap (the paper's Figure 5 panel): a /sweep/table
metric (default final_test_accuracy) over the two swept paths; diverged
points are hatched grey.

    sweep_heatmap.py runs/time_constants.h5 -o heatmap.png [--metric final_test_loss]
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
    ap.add_argument("file", help="a counterstream sweep file (HDF5)")
    ap.add_argument("-o", "--output", required=True, help="PNG to write")
    ap.add_argument("--metric", default="final_test_accuracy", help="a column of /sweep/table")
    args = ap.parse_args()
    rec = counterstream.open(args.file)
    t = rec.table
    params = rec.attributes("sweep/table")["parameters"]
    if len(params) != 2:
        raise SystemExit(f"{args.file}: a heatmap needs a sweep over 2 paths, this one has {len(params)}")
    x, y = (t[p].to_numpy() for p in params)
    z = t[args.metric].to_numpy().astype(float)
    xs, ys = np.unique(x), np.unique(y)
    grid = np.full((len(xs), len(ys)), np.nan)
    for a, b, v in zip(x, y, z):
        grid[np.searchsorted(xs, a), np.searchsorted(ys, b)] = v
    scale = 100 if "accuracy" in args.metric else 1
    fig, ax = plt.subplots(figsize=(6.5, 5))
    ax.set_facecolor("0.8")
    im = ax.imshow(grid * scale, origin="lower", cmap="viridis", aspect="auto")
    for i in range(len(xs)):
        for j in range(len(ys)):
            text = "div." if np.isnan(grid[i, j]) else f"{grid[i, j] * scale:.0f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color="w" if not np.isnan(grid[i, j]) else "k")
    ax.set_xticks(range(len(ys)), [f"{v:g}" for v in ys], rotation=45)
    ax.set_yticks(range(len(xs)), [f"{v:g}" for v in xs])
    ax.set_xlabel(params[1])
    ax.set_ylabel(params[0])
    fig.colorbar(im, ax=ax, label=args.metric + (" [%]" if scale == 100 else ""))
    fig.tight_layout()
    fig.savefig(args.output, dpi=150)


if __name__ == "__main__":
    main()
