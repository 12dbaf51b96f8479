#!/usr/bin/python3
"""Feedback alignment (or backprop) written from scratch in PyTorch, on the
paper's 784-200-200-200-10 MLP without biases, to check counterstream's
fa.yaml against an independent implementation (README, "Why fa.yaml stops
at 95.8%"). Prints epoch, mean training loss and test accuracy per epoch.

    /usr/bin/python3 bench/fa_torch.py --rule fa --lr 0.1 --epochs 5
    /usr/bin/python3 bench/fa_torch.py --rule fa --lr 0.1 --epochs 5 --bias

W^l ~ N(0, 1/n_l) (counterstream's gain_W 1), feedback B^l drawn like
(W^l)^T, weight decay gamma as in the circuits (W <- W + lr (dW - gamma W)),
batch 256, MNIST from data/mnist (scripts/fetch-data mnist) scaled to [0, 1].
"""
import argparse, gzip, os, sys

import numpy as np
import torch

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--rule", choices=["fa", "sgd"], default="fa")
p.add_argument("--lr", type=float, default=0.1)
p.add_argument("--gamma", type=float, default=1e-4)
p.add_argument("--epochs", type=int, default=5)
p.add_argument("--bias", action="store_true", help="add a bias to every layer")
p.add_argument("--data", default="data/mnist")
p.add_argument("--seed", type=int, default=0)
a = p.parse_args()
torch.manual_seed(a.seed)


def idx(stem):
    for name in (stem, stem + ".gz"):
        path = os.path.join(a.data, name)
        if os.path.exists(path):
            raw = (gzip.open if name.endswith(".gz") else open)(path, "rb").read()
            dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(raw[3])]
            return np.frombuffer(raw, np.uint8, offset=4 + 4 * len(dims)).reshape(dims)
    sys.exit(f"fa_torch: {stem} not found in {a.data} (scripts/fetch-data mnist)")


x_train = torch.tensor(idx("train-images-idx3-ubyte").reshape(-1, 784) / 255.0, dtype=torch.float32).T
y_train = torch.tensor(idx("train-labels-idx1-ubyte").astype(np.int64))
x_test = torch.tensor(idx("t10k-images-idx3-ubyte").reshape(-1, 784) / 255.0, dtype=torch.float32).T
y_test = torch.tensor(idx("t10k-labels-idx1-ubyte").astype(np.int64))

N = [784, 200, 200, 200, 10]
W = [torch.randn(N[l + 1], N[l]) / N[l] ** 0.5 for l in range(4)]
b = [torch.zeros(N[l + 1], 1) for l in range(4)]
B = [None] + [torch.randn(N[l + 1], N[l]) / N[l] ** 0.5 for l in (1, 2, 3)]


def forward(x):
    h = [x]
    for l in range(4):
        z = W[l] @ h[l] + (b[l] if a.bias else 0)
        h.append(z.clamp(min=0) if l < 3 else z)
    return h


for epoch in range(1, a.epochs + 1):
    order, loss = torch.randperm(60000), 0.0
    for i in range(0, 60000, 256):
        batch = order[i:i + 256]
        n = len(batch)
        h = forward(x_train[:, batch])
        p_out = torch.softmax(h[4], 0)
        cols = torch.arange(n)
        loss += -torch.log(p_out[y_train[batch], cols] + 1e-30).sum().item()
        delta = [None] * 5
        delta[4] = -p_out
        delta[4][y_train[batch], cols] += 1  # -dF/dy
        for l in (3, 2, 1):
            back = W[l].T if a.rule == "sgd" else B[l].T
            delta[l] = (back @ delta[l + 1]) * (h[l] > 0)
        for l in range(4):
            W[l] += a.lr * (delta[l + 1] @ h[l].T / n - a.gamma * W[l])
            if a.bias:
                b[l] += a.lr * delta[l + 1].mean(1, keepdim=True)
    accuracy = (forward(x_test)[4].argmax(0) == y_test).float().mean().item()
    print(f"{epoch} {loss / 60000:.4f} {100 * accuracy:.2f}", flush=True)
