#!/usr/bin/env python3
"""The paper's Figure 3 panel for one group: its Gram matrix W W^T before and
after training and their singular spectra (from `counterstream analyze`).

    gram.py runs/sal.h5 [--group Vbar1] -o gram.png
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


def layer_order(name):
    """W1, W2, ..., then Vbar1, ..., then anything else."""
    m = re.match(r"^(W|Vbar)(\d+)$", name)
    return (0 if m.group(1) == "W" else 1, int(m.group(2))) if m else (2, 0, name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", help="recording (or analyze -o output) with /analysis/gram")
    ap.add_argument("-o", "--output", required=True, help="PNG to write")
    ap.add_argument("--group", help="group under /analysis/gram (default: the first layer's W)")
    args = ap.parse_args()

    rec = counterstream.open(args.file)
    analysis = rec.analysis
    if "gram" not in analysis:
        raise SystemExit(f"{args.file}: no /analysis/gram (run counterstream analyze first)")
    groups = sorted((k for k in analysis["gram"] if not k.startswith("@")), key=layer_order)
    name = args.group or groups[0]
    if name not in groups:
        raise SystemExit(f"{args.file}: no /analysis/gram/{name} (groups: {', '.join(groups)})")
    g = analysis["gram"][name]
    mats = g["first"], g["last"]
    steps = tuple(int(rec.attributes(f"analysis/gram/{name}/{k}").get("step", 0)) for k in ("first", "last"))
    spectra = g["spectrum_first"], g["spectrum_last"]
    rank = analysis.get("effective_rank", {}).get(name)  # absent for tied groups
    ranks = (rank[0], rank[-1]) if rank is not None else (None, None)

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8))
    for ax, m, step in zip(axes[:2], mats, steps):
        lim = float(np.abs(m).max()) or 1.0
        im = ax.imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        ax.set_title(f"{name} {name}$^T$, step {step}")
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax = axes[2]
    for s, step, r in zip(spectra, steps, ranks):
        s = np.clip(s, 1e-12, None)
        label = f"step {step}" + (f" (eff. rank of {name} {r:.1f})" if r is not None else "")
        ax.semilogy(np.arange(1, len(s) + 1), s / s[0], label=label)
    ax.set_xlabel("index")
    ax.set_ylabel("singular value / largest")
    ax.set_title(f"spectrum of {name} {name}$^T$")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.output, dpi=150)


if __name__ == "__main__":
    main()
