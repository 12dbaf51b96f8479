#!/usr/bin/env python3
"""Theorem 1 measured: the angle between the circuit's update of each W^l and
the true gradient (solid) or H^l times it (dashed; omitted where H = I), against
training step.

    theorem1.py runs/sal.h5 [runs/fa.h5 ...] -o theorem1.png
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
    ap.add_argument("files", nargs="+", help="recordings with /analysis/theorem1")
    ap.add_argument("-o", "--output", required=True, help="PNG to write")
    args = ap.parse_args()

    fig, ax = plt.subplots(figsize=(6.5, 4))
    plotted, top = 0, 95.0
    for path in args.files:
        analysis = counterstream.open(path).analysis
        t = analysis.get("theorem1")
        if t is None or "probe_loss" not in t:
            why = t.get("@skipped", "not analyzed") if t is not None else "not analyzed"
            print(f"{path}: no Theorem 1 angles ({why}), skipped")
            continue
        step = analysis["step"]
        prefix = "" if len(args.files) == 1 else pathlib.Path(path).stem + ": "
        layers = sorted((k for k in t if k.startswith("W")), key=lambda k: int(k[1:]))
        for layer in layers:
            angle = t[layer]["angle_to_gradient"]
            line, = ax.plot(step, angle, label=f"{prefix}{layer} vs gradient")
            plotted += 1
            top = max(top, 1.05 * float(np.nanmax(angle, initial=0)))
            h_angle = t[layer].get("angle_to_H_gradient")
            if h_angle is not None and not np.allclose(h_angle, angle, atol=1e-3):  # H = I: same line
                angle = h_angle
                ax.plot(step, angle, "--", color=line.get_color(), label=f"{prefix}{layer} vs H gradient")
                top = max(top, 1.05 * float(np.nanmax(angle, initial=0)))
    if not plotted:
        raise SystemExit("no Theorem 1 angles found")
    ax.set_xlabel("step")
    ax.set_ylabel("angle to the circuit's update [deg]")
    ax.set_ylim(0, top)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.output, dpi=150)


if __name__ == "__main__":
    main()
