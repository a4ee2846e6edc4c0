"""Train one MLP with each activation on scikit-learn's 8x8 digits and compare them.

The data ships with scikit-learn (no download); seeds are fixed, so a run is
reproducible.  The training loop uses only fastact and NumPy (matrix products
with @).  Prints a table and writes a PNG with the validation loss and accuracy
per epoch, one line per activation.

The matrices are small (batches of 64 by 128 features), so BLAS threads would only
contend with each other: BLAS runs on one thread (--blas-threads to change it; on a busy
2-core machine its default threads made a run 10-25 times slower).

    pip install -e ".[examples]"
    python examples/compare_activations.py            # about 13 s on two cores
    python examples/compare_activations.py --epochs 5 --activations relu,gelu --out run.png
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# One BLAS thread unless the environment says otherwise; set before NumPy loads its BLAS
# (threadpoolctl, where installed, also limits a BLAS already loaded: see main)
for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from fastact import layers, softmax_cross_entropy, softmax_cross_entropy_backward  # noqa: E402
from fastact.catalogue import OPS_BY_NAME  # noqa: E402

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu", "silu", "mish")


def load_digits(seed: int = 0):
    """Standardised 8x8 digits, split 80/20 into training and validation sets."""
    from sklearn.datasets import load_digits as sklearn_digits

    data = sklearn_digits()
    x, y = data.data.astype(np.float64), data.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    split = int(0.8 * len(x))
    mean, std = x[:split].mean(axis=0), x[:split].std(axis=0) + 1e-8
    x = (x - mean) / std
    return x[:split], y[:split], x[split:], y[split:]


def build(activation: str, seed: int, sizes=(64, 128, 128, 10)):
    """Linear - activation - ... - Linear; Glorot init, LeCun normal for SELU."""
    init = "lecun" if activation == "selu" else "glorot"
    rng = np.random.default_rng(seed)
    net = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        net.append(layers.Linear(n_in, n_out, init=init, rng=rng))
        if i < len(sizes) - 2:
            net.append(getattr(layers, OPS_BY_NAME[activation].layer)())
    return net


def forward(net, x):
    for layer in net:
        x = layer.forward(x)
    return x


def backward(net, grad):
    for layer in reversed(net):
        grad = layer.backward(grad)
    return grad


class Adam:
    """Adam (Kingma and Ba) over a list of fastact.layers.Parameter."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.lr, self.betas, self.eps = params, lr, betas, eps
        self.m = [np.zeros_like(p.value) for p in params]
        self.v = [np.zeros_like(p.value) for p in params]
        self.t = 0

    def step(self):
        self.t += 1
        b1, b2 = self.betas
        for p, m, v in zip(self.params, self.m, self.v):
            m *= b1
            m += (1 - b1) * p.grad
            v *= b2
            v += (1 - b2) * p.grad ** 2
            m_hat = m / (1 - b1 ** self.t)
            v_hat = v / (1 - b2 ** self.t)
            p.value -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
            p.zero_grad()


def train(activation, data, epochs=40, batch=64, lr=1e-3, seed=0):
    """Train one network; per-epoch validation loss and accuracy, and seconds per epoch."""
    x_train, y_train, x_val, y_val = data
    net = build(activation, seed)
    optimiser = Adam(layers.parameters(net), lr=lr)
    rng = np.random.default_rng(seed)
    history = {"val_loss": [], "val_accuracy": [], "train_loss": []}
    start = time.perf_counter()
    for _ in range(epochs):
        order = rng.permutation(len(x_train))
        losses = []
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            logits = forward(net, x_train[idx])
            losses.append(softmax_cross_entropy(logits, y_train[idx]))
            backward(net, softmax_cross_entropy_backward(1.0, logits, y_train[idx]))
            optimiser.step()
        logits = forward(net, x_val)
        history["train_loss"].append(float(np.mean(losses)))
        history["val_loss"].append(float(softmax_cross_entropy(logits, y_val)))
        history["val_accuracy"].append(float(np.mean(logits.argmax(axis=1) == y_val)))
    history["seconds_per_epoch"] = (time.perf_counter() - start) / max(epochs, 1)
    return history


def plot(histories, path):
    """One figure: validation loss (log scale) and accuracy per epoch, a line per activation."""
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("the plot needs matplotlib: pip install -e '.[examples]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)
    colors = plt.get_cmap("tab10")
    for i, (name, h) in enumerate(histories.items()):
        epochs = np.arange(1, len(h["val_loss"]) + 1)
        style = dict(color=colors(i), lw=2.2 if name == "sigmoid" else 1.6,
                     ls="--" if name == "sigmoid" else "-", label=name)
        ax_loss.plot(epochs, h["val_loss"], **style)
        ax_acc.plot(epochs, h["val_accuracy"], **style)
    ax_loss.set(yscale="log", xlabel="epoch", ylabel="validation loss (cross-entropy)",
                title="Validation loss")
    ax_acc.set(xlabel="epoch", ylabel="validation accuracy", title="Validation accuracy",
               ylim=(0.5, 1.0))
    for ax in (ax_loss, ax_acc):
        ax.grid(True, alpha=0.3)
    ax_acc.legend(loc="lower right", ncol=3, fontsize=9)
    fig.suptitle("MLP 64-128-128-10 on 8x8 digits, Adam, one network per activation "
                 "(fastact layers)", fontsize=11)
    fig.savefig(path, dpi=110)
    plt.close(fig)


DEFAULT_PNG = Path(__file__).resolve().with_suffix(".png")


def blas_threads(n: int):
    """A context limiting NumPy's BLAS to n threads (threadpoolctl), or a no-op without
    threadpoolctl (the environment variables set at import then hold for n = 1)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib

        if n != 1:
            print("--blas-threads needs threadpoolctl (pip install threadpoolctl)",
                  file=sys.stderr)
        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--activations", default=",".join(ACTIVATIONS),
                        help="comma-separated, from: " + ", ".join(ACTIVATIONS))
    parser.add_argument("--out", default=str(DEFAULT_PNG),
                        help="the PNG to write (default: beside this script, %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="threads for NumPy's matrix products (default 1)")
    args = parser.parse_args(argv)
    names = [a.strip() for a in args.activations.split(",") if a.strip()]
    unknown = [a for a in names if a not in ACTIVATIONS]
    if unknown:
        parser.error(f"unknown activations {unknown}; choose from {', '.join(ACTIVATIONS)}")

    data = load_digits(args.seed)
    histories = {}
    with blas_threads(args.blas_threads):
        for name in names:
            print(f"training with {name}...", file=sys.stderr, flush=True)
            histories[name] = train(name, data, epochs=args.epochs, seed=args.seed)

    print(f"{'activation':12s} {'val accuracy':>12s} {'val loss':>9s} {'s/epoch':>8s}")
    for name, h in histories.items():
        print(f"{name:12s} {h['val_accuracy'][-1]:12.4f} {h['val_loss'][-1]:9.4f} "
              f"{h['seconds_per_epoch']:8.3f}")
    plot(histories, args.out)
    print(f"wrote {args.out}")
    return histories


if __name__ == "__main__":
    main()
