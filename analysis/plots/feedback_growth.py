#!/usr/bin/env python3
"""The growth condition of the feedback pair (V^l, Wbar^l) on a recording.

Eqs. 6-7 with D_d = I and R(S) = S are, for the downstream neuron i of layer l,
a linear system in its two incoming rows x = V^l_i, y = Wbar^l_i:
    dx/dt = eta_V (y C - gamma_V x),   dy/dt = eta_Wbar (x C^T - gamma_Wbar y),
    C^l = mean(hbar^{l+1} (h^l)^T)   (the error-activity covariance).
Its largest eigenvalue is positive iff sigma_max(C^l)^2 > gamma_V gamma_Wbar:
the rates set the speed, never the sign. This prints, per snapshot, sigma_max(C^l)
(on the first N training samples), the pair's Rayleigh quotient
rho = 2 tr(V^T Wbar C) / (|V|^2 + |Wbar|^2) (what the pair grows at now, when
the rates are equal), gamma, and the norms |V|, |Wbar|, |Vbar|. Between two
snapshots it prints the measured growth rate of N = |V|^2 + |Wbar|^2 per step,
g = ln(N'/N) / (2 steps), which plain steps with equal rates eta predict to be
eta (rho - gamma) (rates of the stored circuit times eta_scale; a schedule
lowers it). On a continuous recording (rules with tau instead of eta) a step
is a presentation, and eta is the time the rules learn in one,
present_ms - learn_after_ms, over tau_V. A rule's saturation bends the drive,
so there the linear prediction is an upper bound.

    feedback_growth.py runs/sal.h5 [--data data/mnist] [--samples 2048]
"""
import argparse
import pathlib
import sys

try:
    import counterstream
except ImportError:  # not on the path (scripts/lib.sh puts it there): this tree's build
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "build" / "python"))
    import counterstream
import numpy as np  # noqa: E402


def idx_images(path, n):
    with open(path, "rb") as f:
        f.read(16)
        return np.frombuffer(f.read(n * 784), dtype=np.uint8).reshape(n, 784).astype(np.float64)


def idx_labels(path, n):
    with open(path, "rb") as f:
        f.read(8)
        return np.frombuffer(f.read(n), dtype=np.uint8).astype(np.int64)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--data", default="data/mnist")
    ap.add_argument("--samples", type=int, default=2048)
    ap.add_argument("--gamma", type=float, help="decay (default: read W's rule from the stored circuit)")
    ap.add_argument("--standardize", action="store_true", help="inputs standardized instead of x/255")
    a = ap.parse_args()
    d = pathlib.Path(a.data)
    x = idx_images(d / "train-images-idx3-ubyte", a.samples) / 255.0
    if a.standardize:
        full = idx_images(d / "train-images-idx3-ubyte", 60000) / 255.0
        x = (x - full.mean()) / full.std()
    y = idx_labels(d / "train-labels-idx1-ubyte", a.samples)
    onehot = np.eye(10)[y].T
    rec = counterstream.open(a.file)
    groups = rec.groups
    L = max(int(k[1:]) for k in groups if k.startswith("W") and not k.startswith("Wbar")) + 1
    circ = rec.config["circuit"]
    rule = circ["synapses"]["V2"]["rule"]
    gamma = a.gamma if a.gamma is not None else float(rule["gamma"])
    if rule.get("eta") is None:  # continuous: the learning time of one presentation over tau
        proto = rec.config["protocol"]
        eta = (float(proto["present_ms"]) - float(proto.get("learn_after_ms", 0))) / float(rule["tau"])
    else:
        eta = float(rule["eta"]) * float(circ.get("eta_scale", 1))
    gated = circ["populations"]["hbar2"].get("gate", "none") == "step"
    w = {g: rec.weights(g, as_xarray=False)[0] for g in groups}  # snapshot x post x pre
    steps = rec.weights("W1", as_xarray=False)[1]
    print(f"{a.file}: gamma {gamma:g}, eta_V {eta:g}, downstream gate {'step' if gated else 'none'}, "
          f"{a.samples} training samples")
    print("step   layer  sigma_max(C)  rho(pair)  |V|      |Wbar|   |Vbar|   |W|_2   g(measured)  eta(rho-gamma)")
    last = {}
    for k in range(len(steps)):
        W = {l: w[f"W{l}"][k].astype(np.float64) for l in range(1, L)}
        h = {1: x.T}
        for l in range(1, L):
            z = W[l] @ h[l]
            h[l + 1] = np.maximum(z, 0) if l + 1 < L else z
        p = np.exp(h[L] - h[L].max(0))
        p /= p.sum(0)
        hb = {L: onehot - p}
        for l in range(L - 1, 1, -1):
            hb[l] = w[f"Wbar{l}"][k].astype(np.float64) @ hb[l + 1]
            if gated:
                hb[l] *= (w[f"V{l}"][k].astype(np.float64) @ h[l]) > 0
        for l in range(2, L):
            C = hb[l + 1] @ h[l].T / a.samples
            V = w[f"V{l}"][k].astype(np.float64)
            Wb = w[f"Wbar{l}"][k].astype(np.float64)
            Vb = w[f"Vbar{l}"][k].astype(np.float64)
            s = np.linalg.norm(C, 2)
            rho = 2 * np.trace(V.T @ Wb @ C) / (np.sum(V * V) + np.sum(Wb * Wb))
            N = np.sum(V * V) + np.sum(Wb * Wb)
            g = ""
            if l in last:
                step0, N0, rho0 = last[l]
                g = f"{np.log(N / N0) / (2 * (steps[k] - step0)):12.4g}  {eta * (rho0 - gamma):12.4g}"
            last[l] = (steps[k], N, rho)
            print(f"{steps[k]:6d}  {l}  {s:12.4g}  {rho:10.4g}  {np.linalg.norm(V):7.3g}  "
                  f"{np.linalg.norm(Wb):7.3g}  {np.linalg.norm(Vb):7.3g}  {np.linalg.norm(W[l], 2):6.3g}  {g}")


if __name__ == "__main__":
    main()
