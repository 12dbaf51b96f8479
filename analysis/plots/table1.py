#!/usr/bin/env python3
"""The paper's Table 1 from sweep files (models/benchmarks/table1/*.yaml):
mean +- sample std over seeds of the final test accuracy per dataset, next
to the paper's numbers, as a markdown table. Diverged runs are counted, not
averaged in.

    table1.py runs/table1-sgd.h5 runs/table1-fa.h5 ... [--labels "SGD;FA;..."]
"""
import argparse
import os
import pathlib

os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")
import h5py  # noqa: E402
import numpy as np  # noqa: E402

# Liao et al., Table 1: (mean, std) in %.
PAPER = {
    "SGD": {"mnist": (98.44, 0.09), "fashion-mnist": (96.80, 0.05)},
    "FA": {"mnist": (97.80, 0.19), "fashion-mnist": (95.75, 0.20)},
    "WM": {"mnist": (98.40, 0.23), "fashion-mnist": (96.00, 0.25)},
    "KP": {"mnist": (98.45, 0.09), "fashion-mnist": (96.13, 0.07)},
    "SAL": {"mnist": (98.85, 0.10), "fashion-mnist": (97.23, 0.08)},
}
DATASETS = ["mnist", "fashion-mnist"]


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def cell(values, diverged):
    if len(values) == 0:
        return f"all {diverged} diverged"
    s = f"{np.mean(values):.2f} ± {np.std(values, ddof=1) if len(values) > 1 else float('nan'):.2f}"
    return s + (f" ({diverged} of {diverged + len(values)} diverged)" if diverged else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", help="sweep files of models/benchmarks/table1/*.yaml")
    ap.add_argument("--labels", help="row labels separated by ';' (default: file stems); "
                                     "a label starting with a paper row name (SGD, FA, WM, KP, SAL) gets its numbers")
    args = ap.parse_args()
    labels = args.labels.split(";") if args.labels else [pathlib.Path(f).stem for f in args.files]
    print("| method | " + " | ".join(f"{d} (ours)" + f" | {d} (paper)" for d in DATASETS) + " |")
    print("|---" * (1 + 2 * len(DATASETS)) + "|")
    for path, label in zip(args.files, labels):
        with h5py.File(path, "r") as f:
            t = f["sweep/table"]
            names = [text(v) for v in t["protocol.dataset.name"][...]]
            acc = t["final_test_accuracy"][...] * 100
            div = t["diverged"][...].astype(bool)
        paper = next((v for k, v in PAPER.items() if label.startswith(k)), {})
        row = [label]
        for d in DATASETS:
            rows = np.array([n == d for n in names])
            row.append(cell(acc[rows & ~div], int((rows & div).sum())))
            row.append("{:.2f} ± {:.2f}".format(*paper[d]) if d in paper else "")
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
