#!/usr/bin/env python3
"""Learning curves: a metric (default test_accuracy) against epoch for several
recordings on one axis, labelled by file name; a sweep file gives one curve
per point (/points/<i>), labelled by its swept values, or by --labels.

    learning_curves.py runs/sal.h5 runs/sgd.h5 -o curves.png [--metric test_loss]
    learning_curves.py runs/figure4.h5 -o figure4.png --labels "SAL;Wbar frozen;..."
    learning_curves.py runs/figure4_assembly.h5 -o f.png --over protocol.seed --labels "..."

--over COLUMN draws one curve per value of the other swept columns: the mean
over COLUMN's values (seeds, say) with their range shaded; a curve that stops
early (a diverged point) is left out of the mean and counted in the label.
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


def read(recording, metric, where):
    """(epoch, y) of a recording's /metrics, or (None, None) with a note."""
    try:
        metrics = recording.metrics.reset_index()  # step as a column too
    except KeyError:  # no /metrics at all
        metrics = {}
    if metric not in metrics or "epoch" not in metrics:
        print(f"{where}: no /metrics/{metric} or /metrics/epoch, skipped")
        return None, None
    return metrics["epoch"].to_numpy(), metrics[metric].to_numpy()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", help="counterstream recordings (HDF5)")
    ap.add_argument("-o", "--output", required=True, help="PNG to write")
    ap.add_argument("--metric", default="test_accuracy", help="a dataset under /metrics")
    ap.add_argument("--labels", help="the curves' labels, separated by ';' (default: file names, swept values)")
    ap.add_argument("--title", help="the plot's title")
    ap.add_argument("--over", help="a swept column to average over (mean and range per other values)")
    args = ap.parse_args()

    curves = []  # (label, epoch, y)
    groups = {}  # --over: the other columns' values -> [(epoch, y) per point]
    for path in args.files:
        rec = counterstream.open(path)
        points = rec.points
        if points:  # a sweep: every point's own recording
            table = rec.table
            params = rec.attributes("sweep/table")["parameters"]
            for point in points:
                i = int(point.root.rsplit("/", 1)[-1])
                values = [table[p].iloc[i] for p in params]
                text = [v if isinstance(v, str) else f"{v:g}" for v in values]
                if args.over:
                    if args.over not in params:
                        sys.exit(f"{path}: --over {args.over} is not a swept column ({', '.join(params)})")
                    key = " ".join(f"{p}={v}" for p, v in zip(params, text) if p != args.over)
                    groups.setdefault(key, []).append(read(point, args.metric, f"{path}:{point.root}"))
                    continue
                label = " ".join(f"{p}={v}" for p, v in zip(params, text))
                curves.append((label,) + read(point, args.metric, f"{path}:{point.root}"))
        else:
            curves.append((pathlib.Path(path).stem,) + read(rec, args.metric, path))
    labels = args.labels.split(";") if args.labels else []
    fig, ax = plt.subplots(figsize=(6, 4))
    scale = 100.0 if args.metric.endswith("accuracy") else 1.0
    for k, (label, epoch, y) in enumerate(curves):
        if epoch is None:
            continue
        keep = np.isfinite(epoch) & np.isfinite(y)
        ax.plot(epoch[keep], scale * y[keep], marker="o", ms=3, label=labels[k] if k < len(labels) else label)
    for k, (key, runs) in enumerate(groups.items()):
        label = labels[k] if k < len(labels) else key
        full = max((len(e) for e, _ in runs if e is not None), default=0)
        done = [(e, y) for e, y in runs if e is not None and len(e) == full and np.all(np.isfinite(y))]
        stopped = len(runs) - len(done)
        if stopped:
            label += f" ({stopped} of {len(runs)} diverged)"
        if not done:
            ax.plot([], [], label=label)
            continue
        ys = scale * np.array([y for _, y in done])
        line = ax.plot(done[0][0], ys.mean(axis=0), marker="o", ms=3, label=label)[0]
        ax.fill_between(done[0][0], ys.min(axis=0), ys.max(axis=0), color=line.get_color(), alpha=0.2)
    if args.title:
        ax.set_title(args.title)
    ax.set_xlabel("epoch")
    ax.set_ylabel(args.metric.replace("_", " ") + (" [%]" if args.metric.endswith("accuracy") else ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.output, dpi=150)


if __name__ == "__main__":
    main()
