#!/usr/bin/env python3
"""Self-assembly: the alignment angles of /analysis/alignment against training
step, one panel per kind (Wbar^l vs W^l^T, Vbar^{l-1} vs V^l^T, eq. 27), one
line per layer (and per file when several are given).

    alignment.py runs/sal.h5 [runs/kp.h5 ...] -o alignment.png
"""
import argparse
import pathlib
import re
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

KINDS = [  # (pattern, panel title)
    (r"^Wbar\d+_W\d+$", r"$\bar W^l$ vs $(W^l)^T$"),
    (r"^Vbar\d+_V\d+$", r"$\bar V^{l-1}$ vs $(V^l)^T$ (Lemma 1)"),
    (r"^VW\d+_WbarVbar\d+$", r"$V^l (W^l)^T$ vs $\bar W^l (\bar V^l)^T$ (eq. 27)"),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", help="recordings with /analysis/alignment")
    ap.add_argument("-o", "--output", required=True, help="PNG to write")
    args = ap.parse_args()

    curves = {k: [] for k, _ in KINDS}  # kind -> [(label, step, angle)]
    for path in args.files:
        analysis = counterstream.open(path).analysis
        if "alignment" not in analysis:
            print(f"{path}: no /analysis/alignment (run counterstream analyze first), skipped")
            continue
        step = analysis["step"]
        for name, angle in analysis["alignment"].items():
            for kind, _ in KINDS:
                if re.match(kind, name):
                    label = name if len(args.files) == 1 else f"{pathlib.Path(path).stem}: {name}"
                    curves[kind].append((label, step, angle))
    kinds = [(k, t) for k, t in KINDS if curves[k]]
    if not kinds:
        raise SystemExit("no alignment angles found")
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.5 * len(kinds), 3.6), squeeze=False)
    for ax, (kind, title) in zip(axes[0], kinds):
        top = 95.0
        for label, step, angle in curves[kind]:
            ax.plot(step, angle, label=label)
            top = max(top, 1.05 * float(np.nanmax(angle, initial=0)))
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.set_ylabel("angle [deg]")
        ax.set_ylim(0, top)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.output, dpi=150)


if __name__ == "__main__":
    main()
