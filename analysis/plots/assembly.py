#!/usr/bin/env python3
"""Self-assembly against training, one colour per recording and one line
style per layer: eq. 27 (V^l W^l^T vs Wbar^l Vbar^l^T), Lemma 1 (Vbar^{l-1}
vs V^l^T) and W^l's update against the true gradient (Theorem 1's probe), all
from `counterstream analyze`.

    assembly.py runs/sal_assembly.h5 runs/sal.h5 runs/kp.h5 runs/fa.h5 -o assembly.png
    assembly.py A.h5 B.h5 --labels "one;other" --targets 20,20,- --xlabel presentation -o out.png
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

PANELS = [  # (title, dataset path pattern with the layer as group 1)
    (r"eq. 27: $V^l (W^l)^T$ vs $\bar W^l (\bar V^l)^T$", r"alignment/VW(\d+)_WbarVbar\d+"),
    (r"Lemma 1: $\bar V^{l-1}$ vs $(V^l)^T$", r"alignment/Vbar\d+_V(\d+)"),
    (r"$W^l$'s update vs the gradient", r"theorem1/W(\d+)/angle_to_gradient"),
]
STYLES = ["-", "--", ":", "-."]


def datasets(tree, prefix=""):
    """{'alignment/Vbar1_V2': array, ...}: the arrays of Recording.analysis by their paths under /analysis."""
    out = {}
    for key, value in tree.items():
        if key.startswith("@"):  # an attribute
            continue
        if isinstance(value, dict):
            out.update(datasets(value, f"{prefix}{key}/"))
        else:
            out[prefix + key] = value
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", help="recordings with /analysis")
    ap.add_argument("-o", "--output", required=True, help="PNG to write")
    ap.add_argument("--labels", help="one label per recording, separated by ';' (default: the file names)")
    ap.add_argument("--targets", default="15,15,30",
                    help="the grey target line of each panel [deg], '-' for none (default: issue 21's, 15,15,30)")
    ap.add_argument("--xlabel", default="step", help="the x axis' name (a continuous run's steps are presentations)")
    args = ap.parse_args()
    labels = args.labels.split(";") if args.labels else [pathlib.Path(f).stem for f in args.files]
    if len(labels) != len(args.files):
        ap.error(f"--labels gives {len(labels)} labels for {len(args.files)} recordings")
    targets = [None if t.strip() == "-" else float(t) for t in args.targets.split(",")]
    if len(targets) != len(PANELS):
        ap.error(f"--targets gives {len(targets)} values for {len(PANELS)} panels")
    fig, axes = plt.subplots(1, len(PANELS), figsize=(15, 4))
    for c, path in enumerate(args.files):
        analysis = datasets(counterstream.open(path).analysis)
        step = analysis["step"]
        for ax, (title, pattern) in zip(axes, PANELS):
            layers = sorted((int(m.group(1)), n) for n in analysis if (m := re.fullmatch(pattern, n)))
            for i, (layer, name) in enumerate(layers):
                y = analysis[name]
                if y.max() < 0.5:  # a fixed identity (KP's V, Vbar; the last W): nothing to show
                    continue
                ax.plot(step, y, color=f"C{c}", ls=STYLES[i % len(STYLES)],
                        label=f"{labels[c]}, l = {layer}")
            ax.set_title(title)
    for ax, target in zip(axes, targets):
        if target is not None:
            ax.axhline(target, color="grey", lw=0.5)
        ax.set_xlabel(args.xlabel)
        ax.set_ylabel("angle [deg]")
        ax.set_ylim(0, 95)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(args.output, dpi=130)


if __name__ == "__main__":
    main()
