"""Time the fast convolution (forward + backward) against PyTorch, on 1 and all threads.

Chapter 14 (book/14-convolutional-networks.md) builds ``dlcode.layers.conv_forward``
and ``conv_backward`` on im2col: one copy of the input's windows into the matrix X_col
of shape (C*HH*WW, N*H'*W'), then one matrix product forward and two backward, and
col2im (HH*WW strided additions) for the input gradient. Timings vary between machines,
so they are printed here and not in the chapter. On one input, by default
64 x 16 x 32 x 32 in float64 with 32 filters of size 3 x 3, stride 1 and padding 1, the
script reports, for each thread count of ``--threads`` (default: 1, then every core),

(a) the fast layer's forward + backward pass;
(b) PyTorch's CPU ``conv2d`` forward + backward (autograd) in float64, and the ratio
    PyTorch / fast (above 1: the NumPy layer is faster);
(c) the three matrix multiplies the layer reduces to, each timed alone on the layer's
    operands: ``W @ X_col`` (forward), ``X_col @ G.T`` (the transposed weight
    gradient) and ``W.T @ G`` (input gradient). No im2col layer can be faster than
    their sum, the bound;
(d) the layer's checks alone (``_conv_setup``: types, shapes, finiteness of x, w and b,
    the parameters; ``_check_dout``: shape and finiteness of dout), that is the
    overhead of the checked layer over the bare operation;

and once, on one thread, (e) the naive layer, timed on the first ``--naive-batch``
examples and scaled linearly to the full batch (one loop iteration per example, filter
and pixel).

The thread count is set for NumPy's BLAS (OpenBLAS, through threadpoolctl) and for
PyTorch (``torch.set_num_threads``) alike. Every time is the smallest of ``--repeats``
runs, and the candidates are interleaved (one run of each per round), so that a burst
of load from other processes affects them alike; ratios are ratios of these minima.
The im2col and col2im copies are NumPy array operations, which run on one thread
whatever the setting.

Usage::

    python benchmarks/bench_conv.py              # default problem, 1 and all threads
    python benchmarks/bench_conv.py --threads 2  # two threads only
    python benchmarks/bench_conv.py --batch 16 --repeats 5

With ``--check`` it exits with status 1 if a target is missed. Targets: at every thread
count, no slower than PyTorch; on one thread, within 2x of the matrix-multiply bound
and at least 100x faster than naive. With more threads the bound falls but the
single-threaded copies do not, so there fast / bound is printed without a target.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from dlcode.gradcheck import rel_error
from dlcode.layers import (
    _check_dout,
    _conv_setup,
    conv_backward,
    conv_backward_naive,
    conv_forward,
    conv_forward_naive,
)


def interleaved_best(candidates, repeats):
    """``{name: smallest wall-clock time over repeats}``, the candidates run in turn."""
    best = dict.fromkeys(candidates, float("inf"))
    for _ in range(repeats):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def torch_candidate(x, w, b, dout, stride, pad):
    """PyTorch's conv2d forward + backward (float64) and its results, or None."""
    try:
        import torch
    except ImportError:
        return None, None
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    dt = torch.tensor(dout)

    def run():
        for t in (xt, wt, bt):
            t.grad = None
        out = torch.nn.functional.conv2d(xt, wt, bt, stride=stride, padding=pad)
        out.backward(dt)
        return out, xt.grad, wt.grad, bt.grad

    return run, [a.detach().numpy() for a in run()]


def set_torch_threads(threads):
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(threads)


def time_one_thread_count(x, w, b, dout, param, repeats):
    """Best times of the fast layer, PyTorch, the three products and the checks."""
    F = w.shape[0]
    out, cache = conv_forward(x, w, b, param)
    cols = cache[2]  # X_col, (C*HH*WW, N*H'*W')
    w_mat = w.reshape(F, -1)
    g = np.ascontiguousarray(dout.transpose(1, 0, 2, 3)).reshape(F, -1)  # G, like Y
    candidates = {
        "fast": lambda: conv_backward(dout, conv_forward(x, w, b, param)[1]),
        "forward   W @ X_col": lambda: w_mat @ cols,
        "weights   X_col @ G.T": lambda: cols @ g.T,
        "input     W.T @ G": lambda: w_mat.T @ g,
        "checks": lambda: (_conv_setup(x, w, b, param), _check_dout(dout, out.shape)),
    }
    S, P = param["stride"], param["pad"]
    run_torch, torch_results = torch_candidate(x, w, b, dout, S, P)
    if run_torch is not None:
        grads = conv_backward(dout, cache)
        worst = max(rel_error(ours, theirs) for ours, theirs in
                    zip((out, *grads), torch_results, strict=True))
        if not worst < 1e-7:
            raise AssertionError(f"fast layer and PyTorch disagree: relative error "
                                 f"{worst:.1e}")
        candidates["pytorch"] = run_torch
    return interleaved_best(candidates, repeats)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64, help="N, the batch size")
    parser.add_argument("--channels", type=int, default=16, help="C, input channels")
    parser.add_argument("--size", type=int, default=32, help="H = W, the image size")
    parser.add_argument("--filters", type=int, default=32, help="F, number of filters")
    parser.add_argument("--kernel", type=int, default=3, help="HH = WW, filter size")
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument("--pad", type=int, default=1)
    parser.add_argument("--naive-batch", type=int, default=2,
                        help="examples timed for naive")
    parser.add_argument("--repeats", type=int, default=25, help="rounds of candidates")
    parser.add_argument("--threads", type=int, nargs="+", default=None,
                        help="BLAS and PyTorch thread counts (default: 1, all cores)")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:
        cores = os.cpu_count()
    thread_counts = args.threads or sorted({1, cores})

    rng = np.random.default_rng(0)
    N, C, H, F, K = args.batch, args.channels, args.size, args.filters, args.kernel
    x, w = rng.normal(size=(N, C, H, H)), rng.normal(size=(F, C, K, K))
    b = rng.normal(size=F)
    param = {"stride": args.stride, "pad": args.pad}
    dout = rng.normal(size=conv_forward(x, w, b, param)[0].shape)
    print(f"conv forward + backward: x {x.shape}, w {w.shape}, stride {args.stride}, "
          f"pad {args.pad}, float64, {cores} cores, min of {args.repeats} interleaved "
          f"runs")

    targets = []
    for threads in thread_counts:
        with threadpool_limits(limits=threads):
            set_torch_threads(threads)
            best = time_one_thread_count(x, w, b, dout, param, args.repeats)
        fast = best["fast"]
        products = [name for name in best if "@" in name]
        bound = sum(best[name] for name in products)
        print(f"threads: {threads}")
        print(f"  fast (NumPy im2col)            {fast * 1e3:9.1f} ms")
        if "pytorch" in best:
            print(f"  PyTorch conv2d (float64)       {best['pytorch'] * 1e3:9.1f} ms")
        for name in products:
            print(f"    matmul {name:21s} {best[name] * 1e3:9.1f} ms")
        print(f"  the three matmuls (bound)      {bound * 1e3:9.1f} ms")
        print(f"  checks of x, w, b and dout     {best['checks'] * 1e3:9.1f} ms "
              f"({best['checks'] / fast:.1%} of fast)")
        if "pytorch" in best:
            ratio = best["pytorch"] / fast
            targets.append((f"{threads} thr: PyTorch / fast = {ratio:.2f}", ratio >= 1,
                            "at least 1"))
        if threads == 1:
            targets.append((f"1 thr: fast / matmul bound = {fast / bound:.2f}",
                            fast / bound <= 2, "at most 2"))
        else:
            print(f"  fast / matmul bound = {fast / bound:.2f} (copies on one thread)")
        if threads == 1:
            fast_one_thread = fast

    if 1 in thread_counts:
        n_naive = min(args.naive_batch, N)
        x_small, dout_small = x[:n_naive], dout[:n_naive]
        with threadpool_limits(limits=1):
            naive_small = interleaved_best(
                {"naive": lambda: conv_backward_naive(
                    dout_small, conv_forward_naive(x_small, w, b, param)[1])},
                max(1, args.repeats // 10))["naive"]
        naive = naive_small * N / n_naive
        print(f"naive, 1 thread                  {naive * 1e3:9.1f} ms "
              f"(timed on {n_naive} of {N} examples, scaled linearly)")
        ratio = naive / fast_one_thread
        targets.append((f"1 thr: naive / fast = {ratio:.0f}", ratio >= 100,
                        "at least 100"))

    print("ratios of the minima:")
    for text, met, target in targets:
        print(f"  {text:36s} target {target}: {'met' if met else 'MISSED'}")
    if args.check and not all(met for _, met, _ in targets):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
