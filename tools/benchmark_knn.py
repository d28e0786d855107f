"""Time the vectorized k-NN distances against the two-loop version and print the speed-up.

Chapter 3 (book/03-knn.md) explains why the vectorized distances are faster; timings are kept out
of the chapter because its printed output must be identical on every run. This script prints them.
Each timing is the best of several repeats, which filters out interference from other processes.
By default both versions run on one thread (the two-loop version cannot use more), so that the
ratio compares like with like and does not depend on whether another process occupies a core.

Usage::

    python tools/benchmark_knn.py                      # digits: 359 test vs 1,438 training images
    python tools/benchmark_knn.py --queries 100 --train 400 --repeats 5
    python tools/benchmark_knn.py --threads 0             # let BLAS use every core
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from dlcode.data import load_digits
from dlcode.knn import pairwise_distances, pairwise_distances_naive


def best_time(fn, repeats):
    """Smallest wall-clock time of ``repeats`` calls of ``fn()``, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def speedups(A, B, repeats=3, metrics=("l2", "l1")):
    """Return ``{metric: (naive seconds, vectorized seconds)}`` for the rows of A against B."""
    result = {}
    for metric in metrics:
        naive = best_time(lambda m=metric: pairwise_distances_naive(A, B, m), repeats)
        fast = best_time(lambda m=metric: pairwise_distances(A, B, m), max(repeats, 5))
        result[metric] = (naive, fast)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=None, help="number of test images used")
    parser.add_argument("--train", type=int, default=None, help="number of training images used")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the slow version")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (0: no limit)")
    args = parser.parse_args(argv)
    digits = load_digits()
    A = digits["X_test"][: args.queries]
    B = np.concatenate([digits["X_train"], digits["X_val"]])[: args.train]
    print(f"{len(A)} queries x {len(B)} training points x {A.shape[1]} features, "
          f"BLAS threads: {args.threads or 'no limit'}")
    with threadpool_limits(limits=args.threads or None):
        times = speedups(A, B, args.repeats)
    for metric, (naive, fast) in times.items():
        print(f"{metric}: two loops {naive * 1e3:9.1f} ms, vectorized {fast * 1e3:7.2f} ms, "
              f"speed-up {naive / fast:7.0f}x")


if __name__ == "__main__":
    main()
