#!/usr/bin/python3
"""PyTorch CPU peer for `counterstream bench --peer`: times the SAL / SGD step
on the paper's 784-200-200-200-10 MLP (float32, samples as columns, plain
tensor ops, no autograd) and prints ONE line of JSON on stdout; all else goes
to stderr. Run it with Debian's interpreter, which has python3-torch:

    /usr/bin/python3 bench/peer_torch.py --circuit sal --ratio 1 --batch 256 --seconds 3
    /usr/bin/python3 bench/peer_torch.py --check
"""
import argparse, json, os, sys, time

N = [784, 200, 200, 200, 10]  # populations h1..h5


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.error = lambda msg: fail(msg, 2)  # one line on stderr, not usage + message
    p.add_argument("--circuit", choices=["sal", "sgd"], default="sal")
    p.add_argument("--ratio", type=float, default=1.0, help="feedback ratio R (SAL)")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--seconds", type=float, default=3.0, help="timed duration")
    # Fastest on the 2-core dev box (torch -> libblas.so.3 = OpenBLAS 0.3.21 pthread): 1 intra-op
    # thread + 2 OpenBLAS threads, ~1.7x (1,1) and (2,1); (2,2) is worst, OpenMP and BLAS collide.
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--blas-threads", type=int, default=2, help="OpenBLAS threads")
    p.add_argument("--autograd", action="store_true", help="SGD via loss.backward() + optim.SGD")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--check", action="store_true", help="sanity check only; silent, exit 0 if OK")
    a = p.parse_args()
    if a.batch < 1 or a.ratio <= 0 or a.seconds <= 0 or a.threads < 1 or a.blas_threads < 1:
        p.error("batch, ratio, seconds, threads, blas-threads must be positive")
    if a.autograd and a.circuit != "sgd":
        p.error("--autograd applies to --circuit sgd only")
    return a


def fail(msg, code=1):
    print(f"peer_torch: {msg}", file=sys.stderr)
    sys.exit(code)


args = parse_args()
# BLAS thread pools are sized when the library loads: set before importing torch.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(args.blas_threads)
try:
    import torch
except ImportError as exc:
    fail(f"cannot import torch ({exc}); install python3-torch and run with /usr/bin/python3", 2)


def init(shape, gen):
    """Normal weights (out x in), std 1/sqrt(fan_in)."""
    return torch.randn(shape, generator=gen) / shape[1] ** 0.5


class Problem:
    """Fixed input, labels and preallocated activations for batch B."""

    def __init__(self, B, gen):
        self.B, self.x = B, torch.rand((N[0], B), generator=gen)
        y = torch.randint(0, N[-1], (B,), generator=gen)
        self.onehot = torch.zeros(N[-1], B)
        self.onehot[y, torch.arange(B)] = 1.0
        self.h = [self.x] + [torch.empty(n, B) for n in N[1:]]  # h[4] = a5
        self.e = torch.empty(N[-1], B)

    def forward(self, W):
        h = self.h
        for l in range(4):
            torch.mm(W[l], h[l], out=h[l + 1])
            if l < 3:
                h[l + 1].clamp_(min=0)  # ReLU in place (h > 0 <=> a > 0)
        # e = onehot(y) - softmax(h5), classes along dim 0
        torch.sub(self.onehot, torch.softmax(h[4], dim=0), out=self.e)


class SAL:
    """W: forward (N[l+1] x N[l]); V: gate (m_l x n_l); Wb: downstream
    (m_l x m_{l+1}); Vb: apical (n_{l+1} x m_{l+1}). Index l is 0-based
    (paper layer l+1); m[4] = 10 so that hbar[4] is e."""

    # a tenth of the paper's rates: random labels on a fixed batch otherwise
    # blow up at R >= 5 within a few dozen steps (timing needs finite values)
    eta = dict(W=0.003, V=0.00009, Wb=0.0003, Vb=0.0003)
    gamma = 0.001

    def __init__(self, prob, R, gen):
        self.p, B, mw = prob, prob.B, max(1, round(R * 200))
        m = [None, mw, mw, mw, N[-1]]
        self.W = [init((N[l + 1], N[l]), gen) for l in range(4)]
        self.V = [None] + [init((m[l], N[l]), gen) for l in (1, 2, 3)]
        self.Wb = [None] + [init((m[l], m[l + 1]), gen) for l in (1, 2, 3)]
        self.Vb = [init((N[l + 1], m[l + 1]), gen) for l in (0, 1, 2)]
        self.hb = [None] + [torch.empty(m[l], B) for l in (1, 2, 3)] + [prob.e]
        self.A = [None] + [torch.empty(N[l], B) for l in (1, 2, 3)] + [prob.e]
        self.G = [None] + [torch.empty(m[l], B) for l in (1, 2, 3)]

    weights = lambda self: [w for w in self.W + self.V + self.Wb + self.Vb if w is not None]

    def step(self):
        W, V, Wb, Vb, hb, A, G = (getattr(self, k) for k in ("W", "V", "Wb", "Vb", "hb", "A", "G"))
        p, h = self.p, self.p.h
        p.forward(W)  # hb[4] and A[4] are e
        for l in (3, 2, 1):  # downstream, linear: hbar_l = Wbar_l hbar_{l+1}
            torch.mm(Wb[l], hb[l + 1], out=hb[l])
        for l in (0, 1, 2):  # apical currents A_{l+1} = Vbar_l hbar_{l+1}
            torch.mm(Vb[l], hb[l + 1], out=A[l + 1])
        for l in (1, 2, 3):  # gate currents G_l = V_l h_l
            torch.mm(V[l], h[l], out=G[l])
        # All updates read only currents computed above (pre-update weights).
        # S <- (1 - eta*gamma) S + eta/B X Y^T is one GEMM with beta/alpha.
        e, g, B = self.eta, self.gamma, p.B
        upd = lambda S, eta, X, Y: S.addmm_(X, Y.T, beta=1 - eta * g, alpha=eta / B)
        for l in range(4):
            upd(W[l], e["W"], A[l + 1], h[l])
        for l in (1, 2, 3):
            upd(V[l], e["V"], hb[l], h[l])
            upd(Wb[l], e["Wb"], G[l], hb[l + 1])
        for l in (0, 1, 2):
            upd(Vb[l], e["Vb"], h[l + 1], hb[l + 1])


class SGD:
    """Hand-written backprop of softmax cross-entropy, weight decay gamma."""

    eta, gamma = 0.2, 1e-4

    def __init__(self, prob, gen):
        self.p, self.W = prob, [init((N[l + 1], N[l]), gen) for l in range(4)]
        self.d = [None] + [torch.empty(N[l], prob.B) for l in (1, 2, 3)] + [prob.e]

    weights = lambda self: self.W

    def step(self):
        p, W, d, h = self.p, self.W, self.d, self.p.h
        p.forward(W)  # d[4] is e
        for l in (3, 2, 1):  # d_l = (W_l^T d_{l+1}) * (a_l > 0)
            torch.mm(W[l].T, d[l + 1], out=d[l])
            torch.ops.aten.threshold_backward.grad_input(d[l], h[l], 0, grad_input=d[l])
        for l in range(4):
            W[l].addmm_(d[l + 1], h[l].T, beta=1 - self.eta * self.gamma, alpha=self.eta / p.B)


class SGDAutograd:
    """Same SGD via loss.backward() and optim.SGD, rows = samples as in
    nn.Linear; weight_decay=gamma: W <- W - eta*(grad + gamma W), as above."""

    def __init__(self, prob, gen):
        self.p, self.x, self.y = prob, prob.x.T.contiguous(), prob.onehot.argmax(0)
        self.W = [init((N[l + 1], N[l]), gen).requires_grad_() for l in range(4)]
        self.opt = torch.optim.SGD(self.W, lr=SGD.eta, weight_decay=SGD.gamma)

    weights = lambda self: [w.detach() for w in self.W]

    def step(self):
        h = self.x
        for l in range(4):
            h = h @ self.W[l].T
            if l < 3:
                h = torch.relu(h)
        loss = torch.nn.functional.cross_entropy(h, self.y)  # mean over batch
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()


def make(circuit, R, B, seed, autograd=False):
    gen = torch.Generator().manual_seed(seed)
    prob, cls = Problem(B, gen), SGDAutograd if autograd else SGD
    return SAL(prob, R, gen) if circuit == "sal" else cls(prob, gen)


def finite(net):
    return all(bool(torch.isfinite(w).all()) for w in net.weights())


def check():
    """Tiny fixed problem (B=8): one SAL step against the unfused float64
    formula, one hand-written SGD step against autograd, then 49 more SAL
    steps (R=1) that must leave every weight finite."""
    net = make("sal", 1.0, 8, seed=1)
    W, V, Wb, Vb = ([w if w is None else w.double() for w in getattr(net, k)]
                    for k in ("W", "V", "Wb", "Vb"))  # pre-step weights
    with torch.no_grad():
        net.step()
    p = net.p
    h = [p.x.double()]
    for l in range(4):
        h.append((W[l] @ h[l]).clamp(min=0) if l < 3 else W[l] @ h[l])
    hb = [None] * 4 + [p.onehot.double() - torch.softmax(h[4], dim=0)]
    for l in (3, 2, 1):
        hb[l] = Wb[l] @ hb[l + 1]
    A = [None] + [Vb[l - 1] @ hb[l] for l in (1, 2, 3)] + [hb[4]]
    upd = lambda S, k, X, Y: (1 - SAL.eta[k] * SAL.gamma) * S + SAL.eta[k] / p.B * X @ Y.T
    ref = {"W": [upd(W[l], "W", A[l + 1], h[l]) for l in range(4)],
           "V": [None] + [upd(V[l], "V", hb[l], h[l]) for l in (1, 2, 3)],
           "Wb": [None] + [upd(Wb[l], "Wb", V[l] @ h[l], hb[l + 1]) for l in (1, 2, 3)],
           "Vb": [upd(Vb[l], "Vb", h[l + 1], hb[l + 1]) for l in (0, 1, 2)]}
    for k, ws in ref.items():
        for i, (r, w) in enumerate(zip(ws, getattr(net, k))):
            if r is not None and not torch.allclose(w.double(), r, rtol=1e-4, atol=1e-6):
                fail(f"check: SAL {k}[{i}] after one step differs from the reference")
    sgd, auto = make("sgd", 1.0, 8, seed=1), make("sgd", 1.0, 8, seed=1, autograd=True)
    with torch.no_grad():
        sgd.step()
    auto.step()
    for i, (w, r) in enumerate(zip(sgd.weights(), auto.weights())):
        if not torch.allclose(w, r, rtol=1e-4, atol=1e-6):
            fail(f"check: SGD W[{i}] after one step differs from autograd")
    with torch.no_grad():
        for _ in range(49):
            net.step()
    if not finite(net):
        fail("check: non-finite weights after 50 SAL steps")


def bench(a):
    net = make(a.circuit, a.ratio, a.batch, a.seed, a.autograd)
    grad = torch.enable_grad() if a.autograd else torch.no_grad()
    with grad:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 0.5:  # warm-up
            net.step()
        steps, t0 = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - t0) < a.seconds or steps == 0:
            net.step()
            steps += 1
    if not finite(net):
        print("peer_torch: warning: non-finite weights after the run", file=sys.stderr)
    ratio = int(a.ratio) if a.ratio == int(a.ratio) else a.ratio
    return {"peer": "pytorch", "torch": torch.__version__, "circuit": a.circuit, "ratio": ratio,
            "batch": a.batch, "steps": steps, "seconds": round(elapsed, 3),
            "samples_per_s": round(a.batch * steps / elapsed, 1), "threads": a.threads,
            "blas_threads": a.blas_threads, "autograd": a.autograd}


def main():
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # keep decaying values off the slow path
    try:
        if args.check:
            return check()
        print(json.dumps(bench(args)), flush=True)
    except Exception as exc:  # one line on stderr, nonzero exit
        fail(f"{type(exc).__name__}: {exc}")


if __name__ == "__main__":
    main()
