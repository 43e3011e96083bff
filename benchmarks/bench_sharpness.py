"""Cost of one sharpness evaluation against one full-batch gradient (``training_dynamics.md`` §A), on the
``edge_of_stability`` quick setting: digits, n = 256, standardized, tanh MLP 64→32→32→10 (3,466 parameters),
MSE, PyTorch default initialization, float64, one thread.

Timed at two points — the initialization and after 300 GD steps at η = 0.3 (past progressive sharpening's
start): one gradient (forward + backward); one Hessian-vector product (double backprop, the graph of ∇L
reused); one sharpness evaluation by :func:`numerics.sharpness.sharpness` cold (Gaussian start) and warm
(started from the top eigenvector of the point 10 GD steps earlier: how the check traces S); and ARPACK's
defaults (ncv = 20, tol = 0) for comparison, with the number of Hessian-vector products each used and the
difference of its eigenvalue from the tol = 0 one. Each time is the best of ``--repeats`` (other jobs only
slow a repeat down); [brackets]: the same in CPU seconds of this process (one thread, so CPU ≈ wall on a
free core) — the machine is shared, so read the ratios, and the CPU times for absolute costs.

This script reports; it is not a test: it exits 0 whatever it measures.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator, eigsh

from numerics.datasets import digits_task, standardize
from numerics.models import MLP, sample_prior
from numerics.sharpness import DEFAULT_NCV, DEFAULT_TOL, full_gradient, hessian_operator, loss_closure, sharpness


def best(fn, repeats: int) -> tuple[float, float]:
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return min(wall), min(cpu)


def counted(f, theta):
    op = hessian_operator(f, theta)
    count = [0]

    def mv(v):
        count[0] += 1
        return op.matvec(v)
    return LinearOperator(op.shape, matvec=mv, dtype=np.float64), count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    ds = standardize(digits_task(tuple(range(10)), 260, 0, n_test=1000).head(256))
    X, y = torch.as_tensor(ds.X_train), torch.as_tensor(ds.y_train)
    model = MLP(64, [32, 32], 10, "tanh")
    f = loss_closure(model, X, y, "mse")
    theta0 = sample_prior(model, "torch_default", 1, torch.Generator().manual_seed(0))[0]
    rng = np.random.default_rng(0)
    print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"machine: {platform.processor() or platform.machine()}, nproc {os.cpu_count()}, "
          f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"torch {torch.__version__}, 1 thread; network {model} ({model.n_params} parameters), n = {X.shape[0]}")
    print()
    print("| point | gradient | Hessian-vector product | sharpness, cold | sharpness, warm | ARPACK defaults |")
    print("|---|---|---|---|---|---|")
    for label, steps in (("initialization", 0), ("after 300 GD steps", 300)):
        theta = theta0.clone()
        for k in range(steps):
            theta = theta - 0.3 * full_gradient(f, theta)[1]
            if k == steps - 11:
                before = theta.clone()
        prev = before if steps else theta
        _, u_prev = sharpness(f, prev, rng=rng, tol=0)
        exact = sharpness(f, theta, rng=rng, tol=0)[0]
        v = rng.standard_normal(model.n_params)
        op = hessian_operator(f, theta)
        g = best(lambda: full_gradient(f, theta), args.repeats)
        h = best(lambda: op.matvec(v), args.repeats)
        cold = best(lambda: sharpness(f, theta, rng=np.random.default_rng(1)), args.repeats)
        warm = best(lambda: sharpness(f, theta, v0=u_prev), args.repeats)
        default = best(lambda: eigsh(hessian_operator(f, theta), k=1, which="LA", v0=u_prev), args.repeats)
        counts = []
        for kwargs in ({"rng": np.random.default_rng(1)}, {"v0": u_prev}):
            lop, count = counted(f, theta)
            s_val = float(eigsh(lop, k=1, which="LA", tol=DEFAULT_TOL, ncv=DEFAULT_NCV,
                                v0=kwargs.get("v0", np.random.default_rng(1).standard_normal(model.n_params)))[0][0])
            counts.append((count[0], abs(s_val - exact) / exact))
        lop, count = counted(f, theta)
        eigsh(lop, k=1, which="LA", v0=u_prev)
        counts.append((count[0], 0.0))

        def cell(t, c=None):
            s = f"{t[0] * 1e3:.2f} ms [{t[1] * 1e3:.2f}] = {t[0] / g[0]:.1f}× [{t[1] / max(g[1], 1e-12):.1f}×]"
            return s + (f", {c[0]} products, rel. err {c[1]:.1e}" if c else "")
        print(f"| {label} (S = {exact:.4f}) | {g[0] * 1e3:.2f} ms [{g[1] * 1e3:.2f}] | {cell(h)} | "
              f"{cell(cold, counts[0])} | {cell(warm, counts[1])} | {cell(default, (counts[2][0], 0.0))} |")


if __name__ == "__main__":
    main()
