"""Time the fast convolution (forward + backward) against naive, its matrix multiplies and PyTorch.

Chapter 14 (book/14-convolutional-networks.md) builds ``dlcode.layers.conv_forward`` and
``conv_backward`` on im2col: one strided copy per filter offset, then matrix multiplies. Timings
vary between machines, so they are printed here and not in the chapter. On one input, by default
64 x 16 x 32 x 32 in float64 with 32 filters of size 3 x 3, stride 1 and padding 1, the script
times the fast forward + backward pass and reports it relative to

(a) the naive layer (``conv_forward_naive`` / ``conv_backward_naive``), timed on the first
    ``--naive-batch`` examples only and scaled linearly to the full batch (its cost is
    proportional to the number of examples: one loop iteration per example, filter and pixel);
(b) the three matrix multiplies that the layer reduces to, each timed alone on the same shapes: the
    forward product ``W (F, C*HH*WW) @ cols (C*HH*WW, N*H'*W')``, the weight gradient
    ``G (F, N*H'*W') @ cols.T`` and the input gradient ``W.T @ G``. Each is timed as one 2-D product
    on contiguous operands and in the batched form the layer uses (one block of columns per
    example), and the faster of the two counts. An im2col layer cannot be faster than these three
    products, so their sum is the bound;
(c) PyTorch's CPU ``conv2d`` forward + backward (autograd) in float64, when torch is installed.

Every time is the best of ``--repeats`` runs, and the candidates are interleaved (one run of each
per round), so that a burst of load from other processes affects them alike. By default everything
runs on one thread (``--threads``), BLAS and PyTorch included, so the ratios compare like with like;
the im2col copies of the NumPy layer are single-threaded in any case.

Usage::

    python benchmarks/bench_conv.py                  # the default problem, one thread
    python benchmarks/bench_conv.py --threads 2      # BLAS and PyTorch on two threads
    python benchmarks/bench_conv.py --batch 16 --repeats 5

It exits with status 1 if a target is missed and ``--check`` is given. Targets: fast at least 100x
faster than naive, within 2x of the matrix-multiply bound, and no slower than PyTorch.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from dlcode.gradcheck import rel_error
from dlcode.layers import conv_backward, conv_backward_naive, conv_forward, conv_forward_naive


def interleaved_best(candidates, repeats):
    """``{name: smallest wall-clock time over repeats}``, running the candidates in turn."""
    best = dict.fromkeys(candidates, float("inf"))
    for _ in range(repeats):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def torch_candidate(x, w, b, dout, stride, pad, threads):
    """A function running PyTorch's conv2d forward + backward in float64, or None without torch."""
    try:
        import torch
    except ImportError:
        return None, None
    if threads:
        torch.set_num_threads(threads)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    dt = torch.tensor(dout)

    def run():
        for t in (xt, wt, bt):
            t.grad = None
        out = torch.nn.functional.conv2d(xt, wt, bt, stride=stride, padding=pad)
        out.backward(dt)
        return out, xt.grad, wt.grad, bt.grad

    return run, [a.detach().numpy() for a in run()]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64, help="N, the batch size")
    parser.add_argument("--channels", type=int, default=16, help="C, input channels")
    parser.add_argument("--size", type=int, default=32, help="H = W, the image size")
    parser.add_argument("--filters", type=int, default=32, help="F, the number of filters")
    parser.add_argument("--kernel", type=int, default=3, help="HH = WW, the filter size")
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument("--pad", type=int, default=1)
    parser.add_argument("--naive-batch", type=int, default=2, help="examples timed for naive")
    parser.add_argument("--repeats", type=int, default=25, help="rounds of the fast candidates")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/PyTorch threads (0: no limit)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    N, C, H, F, K = args.batch, args.channels, args.size, args.filters, args.kernel
    x, w, b = rng.normal(size=(N, C, H, H)), rng.normal(size=(F, C, K, K)), rng.normal(size=F)
    param = {"stride": args.stride, "pad": args.pad}
    threads = args.threads or None
    with threadpool_limits(limits=threads):
        out, cache = conv_forward(x, w, b, param)
        dout = rng.normal(size=out.shape)
        grads = conv_backward(dout, cache)

        # The three products alone, on the layer's shapes, in two forms each: one large 2-D product
        # on contiguous operands, and the batched form (one block of columns per example) that the
        # layer uses. The bound takes the faster form of each product.
        cols = cache[2]  # (N, C*K*K, H'*W')
        cols_2d = np.ascontiguousarray(cols.transpose(1, 0, 2).reshape(cols.shape[1], -1))
        w_mat = np.ascontiguousarray(w.reshape(F, -1))
        g_3d = dout.reshape(N, F, -1)
        g_2d = np.ascontiguousarray(g_3d.transpose(1, 0, 2).reshape(F, -1))
        products = {
            "forward   W @ cols": (lambda: w_mat @ cols_2d, lambda: np.matmul(w_mat, cols)),
            "weights   G @ cols.T": (lambda: g_2d @ cols_2d.T,
                                     lambda: np.matmul(g_3d, cols.transpose(0, 2, 1)).sum(0)),
            "input     W.T @ G": (lambda: w_mat.T @ g_2d, lambda: np.matmul(w_mat.T, g_3d)),
        }
        candidates = {"fast": lambda: conv_backward(dout, conv_forward(x, w, b, param)[1])}
        for name, (two_d, batched) in products.items():
            candidates[f"{name} (2-D)"] = two_d
            candidates[f"{name} (batched)"] = batched
        run_torch, torch_results = torch_candidate(x, w, b, dout, args.stride, args.pad, threads)
        if run_torch is not None:
            worst = max(rel_error(ours, theirs) for ours, theirs in
                        zip((out, *grads), torch_results, strict=True))
            if not worst < 1e-7:
                raise AssertionError(f"fast layer and PyTorch disagree: relative error {worst:.1e}")
            candidates["pytorch"] = run_torch
        best = interleaved_best(candidates, args.repeats)

        n_naive = min(args.naive_batch, N)
        x_small, dout_small = x[:n_naive], dout[:n_naive]
        naive_small = interleaved_best(
            {"naive": lambda: conv_backward_naive(dout_small,
                                                   conv_forward_naive(x_small, w, b, param)[1])},
            max(1, args.repeats // 10))["naive"]
        naive = naive_small * N / n_naive

    bound = {name: min(best[f"{name} (2-D)"], best[f"{name} (batched)"]) for name in products}
    matmul = sum(bound.values())
    fast = best["fast"]
    print(f"conv forward + backward: x {x.shape}, w {w.shape}, stride {args.stride}, "
          f"pad {args.pad}, float64, threads: {args.threads or 'no limit'}")
    print(f"  fast (NumPy im2col)             {fast * 1e3:9.1f} ms")
    for name in products:
        print(f"    matmul {name:22s} {bound[name] * 1e3:9.1f} ms  (2-D "
              f"{best[f'{name} (2-D)'] * 1e3:.1f}, batched {best[f'{name} (batched)'] * 1e3:.1f})")
    print(f"  the three matmuls (bound)       {matmul * 1e3:9.1f} ms")
    print(f"  naive                           {naive * 1e3:9.1f} ms "
          f"(timed on {n_naive} of {N} examples, scaled linearly)")
    if "pytorch" in best:
        print(f"  PyTorch conv2d (float64)        {best['pytorch'] * 1e3:9.1f} ms")
    print("ratios:")
    targets = [(f"naive / fast = {naive / fast:.0f}", naive / fast >= 100, "at least 100"),
               (f"fast / matmul bound = {fast / matmul:.2f}", fast / matmul <= 2, "at most 2")]
    if "pytorch" in best:
        ratio = best["pytorch"] / fast
        targets.append((f"PyTorch / fast = {ratio:.2f}", ratio >= 1, "at least 1"))
    for text, met, target in targets:
        print(f"  {text:32s} target {target}: {'met' if met else 'MISSED'}")
    if args.check and not all(met for _, met, _ in targets):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
