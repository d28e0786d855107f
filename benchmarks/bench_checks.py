"""Cost of the argument checks of the layers of chapters 7 and 9.

Each layer is timed against the bare NumPy operations it wraps (the same formulas, without
the checks), interleaved (layer, bare,
layer, bare, ...) so that both see the same machine state; the minimum over the repeats
is kept. Run with one BLAS thread:

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_checks.py

Prints the overhead of every layer, (layer - bare) / bare, in percent.
"""

import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from dlcode.layers import (  # noqa: E402
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    tanh_backward,
    tanh_forward,
)

N, D, M = 256, 512, 512
REPEATS, NUMBER = 15, 5


def _sigmoid(z):
    """The layers' overflow-free sigmoid, in bare NumPy."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _bare_bn_forward(x, gamma, beta, eps=1e-5, momentum=0.9, rm=None, rv=None):
    mean, var = x.mean(axis=0), x.var(axis=0)
    rm, rv = momentum * rm + (1 - momentum) * mean, momentum * rv + (1 - momentum) * var
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    return gamma * x_hat + beta, (x_hat, inv_std, rm, rv)


def _bare_bn_backward(dout, x_hat, gamma, inv_std):
    dgamma, dbeta = np.sum(dout * x_hat, axis=0), np.sum(dout, axis=0)
    g_hat = gamma * dout
    n = x_hat.shape[0]
    dx = inv_std / n * (n * g_hat - g_hat.sum(axis=0) - x_hat * np.sum(g_hat * x_hat, axis=0))
    return dx, dgamma, dbeta


def cases():
    """(name, layer call, bare call) for every layer of chapters 7 and 9."""
    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(N, D)), rng.normal(size=(D, M)) / D**0.5, rng.normal(size=M)
    dout = rng.normal(size=(N, M))
    gamma, beta = rng.normal(size=D), rng.normal(size=D)
    zeros = np.zeros(D)
    _, a_cache = affine_forward(x, w, b)
    _, bn_cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    _, x_hat, _, inv_std = bn_cache
    dx = rng.normal(size=(N, D))

    def bare_affine_backward():
        return dout @ w.T, x.T @ dout, dout.sum(axis=0)

    return [
        ("affine_forward", lambda: affine_forward(x, w, b), lambda: x @ w + b),
        ("affine_backward", lambda: affine_backward(dout, a_cache), bare_affine_backward),
        ("relu_forward", lambda: relu_forward(x), lambda: np.maximum(x, 0)),
        ("relu_backward", lambda: relu_backward(dx, x),
         lambda: dx * (x > 0).astype(x.dtype)),
        ("sigmoid_forward", lambda: sigmoid_forward(x), lambda: _sigmoid(x)),
        ("sigmoid_backward", lambda: sigmoid_backward(dx, x),
         lambda: dx * (_sigmoid(x) * _sigmoid(-x))),
        ("tanh_forward", lambda: tanh_forward(x), lambda: np.tanh(x)),
        ("tanh_backward", lambda: tanh_backward(dx, x),
         lambda: dx * (4 * _sigmoid(2 * x) * _sigmoid(-2 * x))),
        ("batchnorm_forward",
         lambda: batchnorm_forward(x, gamma, beta, {"mode": "train"}),
         lambda: _bare_bn_forward(x, gamma, beta, rm=zeros, rv=zeros)),
        ("batchnorm_backward", lambda: batchnorm_backward(dx, bn_cache),
         lambda: _bare_bn_backward(dx, x_hat, gamma, inv_std)),
    ]


def best_times(layer, bare):
    """Minimum over REPEATS of the time per call of layer and of bare, interleaved."""
    best = [np.inf, np.inf]
    for _ in range(REPEATS):
        for i, fn in enumerate((layer, bare)):
            start = time.perf_counter()
            for _ in range(NUMBER):
                fn()
            best[i] = min(best[i], (time.perf_counter() - start) / NUMBER)
    return best


def main():
    print(f"N={N}, D={D}, M={M}; min over {REPEATS} repeats of {NUMBER} calls; "
          f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")
    print(f"{'layer':20s} {'layer us':>10s} {'bare us':>10s} {'overhead':>9s}")
    worst = -np.inf
    for name, layer, bare in cases():
        t_layer, t_bare = best_times(layer, bare)
        overhead = (t_layer - t_bare) / t_bare
        worst = max(worst, overhead)
        print(f"{name:20s} {1e6 * t_layer:10.1f} {1e6 * t_bare:10.1f} {100 * overhead:8.1f}%")
    print(f"largest overhead: {100 * worst:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
