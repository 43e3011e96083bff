"""Rao–Blackwellized G&C (numerics.gnc_width) against the package's fast plain rejection
(numerics.gnc_classifier.guess_and_check) on the same task and prior, in one run on this machine.

Both estimate the same p = P(fit) and posterior test accuracy (kaiming_normal: the last layer is Gaussian, so
the laws agree; tests/test_volume_width_check.py). Printed: time, SEs, and the work ratio
(SE² × seconds of rejection) / (SE² × seconds of RB) = how many times longer rejection needs for the same SE.
Usage: OMP_NUM_THREADS=1 python benchmarks/bench_volume_width.py
"""
import time

import numpy as np
import torch

from numerics.datasets import digits_task
from numerics.gnc_classifier import guess_and_check
from numerics.gnc_width import rb_guess_and_check
from numerics.models import MLP


def main():
    torch.set_num_threads(1)
    ds = digits_task((0, 7), 16, 0, n_test=100)
    print(f"{'width':>6} {'method':>10} {'seconds':>8} {'p_hat':>9} {'p_rel_se':>9} {'acc':>7} {'acc_se':>8}")
    for width, rb_draws, rj_draws in ((16, 8000, 200_000), (256, 1000, 100_000)):
        t = time.perf_counter()
        rb = rb_guess_and_check(ds, width=width, prior="kaiming_normal", draws=rb_draws, rng=np.random.default_rng(0))
        t_rb = time.perf_counter() - t
        t = time.perf_counter()
        rj = guess_and_check(MLP(ds.dim, [width], 2, "relu", False), ds, prior="kaiming_normal", draws=rj_draws,
                             generator=torch.Generator().manual_seed(0))[0]
        t_rj = time.perf_counter() - t
        for name, r, s in (("rb", rb, t_rb), ("rejection", rj, t_rj)):
            print(f"{width:6d} {name:>10} {s:8.2f} {r.p_hat:9.3g} {r.p_se / r.p_hat:9.3g} {r.test_acc_mean:7.4f} "
                  f"{r.test_acc_se:8.2g}")
        acc_ratio = (rj.test_acc_se ** 2 * t_rj) / (rb.test_acc_se ** 2 * t_rb)
        p_ratio = ((rj.p_se / rj.p_hat) ** 2 * t_rj) / ((rb.p_se / rb.p_hat) ** 2 * t_rb)
        print(f"{width:6d}   work ratio rejection/RB: test accuracy {acc_ratio:.1f}x, p {p_ratio:.1f}x")


if __name__ == "__main__":
    main()
