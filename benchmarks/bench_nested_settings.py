"""Nested-sampling settings at Figure 2's depth point (k = 5, linear, normalized prior, m = m' = 5, rank 1, n = 15,
ε = 0.0035, 8 replicates, one core): ``python benchmarks/bench_nested_settings.py DEPTH ACTIVATION PxMxT ...``
(particles × moves per level × posterior moves) prints G ± SE, p, ess and ess per second for each setting and two
replicate seeds. A report, not a test."""
from __future__ import annotations

import sys
import time

import numpy as np

from numerics.factorization import Factorization
from numerics.gnc import estimate
from numerics.problems import random_problem


def main(argv: list[str]) -> int:
    depth, act = int(argv[0]), argv[1]
    prob = random_problem(5, 5, 1, 15, np.random.default_rng(2025))
    fact = Factorization(5, 5, 5, depth, act, "normalized")
    for spec in argv[2:]:
        particles, moves, final = (int(x) for x in spec.split("x"))
        for seed in (7, 8):
            start = time.perf_counter()
            (e,) = estimate(prob, fact, [0.0035], method="nested", draws=0, rng=np.random.default_rng(seed), workers=1,
                            options={"particles": particles, "moves": moves, "replicates": 8, "workers": 1,
                                     "final_moves": final})
            wall = time.perf_counter() - start
            print(f"d = {depth} {act} {spec} seed {seed}: G = {e.G:.5f} ± {e.G_se:.5f}, p = {e.p_accept:.3g} ± "
                  f"{e.p_se:.2g}, ess {e.ess:.0f}, {wall:.1f} s -> {e.ess / wall:.1f} ess/s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
