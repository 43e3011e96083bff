"""The angular estimator for the normalized prior (``numerics.angular``, spec ``gnc_matrix_factorization.md`` §8):
effective posterior samples per second against nested sampling and materialized rejection at Figure 2's depth
setting, ``G_d(0)`` per depth (the depth theorem's ε → 0 limit, rank-1 W*), and the RIP bound's setting.

Modes (one run each; this script reports, it is not a test, and exits 0 whatever it measures):
- ``--speed``: k = 5, d = 10, ε = 0.0035, linear, m = m' = 5, rank 1, n = 15 (one problem): ``angular`` (IS),
  ``angular_smc`` and ``nested`` on 2 threads; effective samples/s = ess / wall seconds (ess as each method defines
  it: Kish over hidden draws for IS, min(particles, Var/SE²) for the replicate methods); materialized rejection's
  rate = its draws/s × p(ε) (p from nested). Target ≥ 10× nested.
- ``--depth-zero``: ``G_d(0)`` for d in ``--depths`` by ``angular_smc`` (replicate SEs), rank-1 W*; the corollary
  predicts G_d(0) → 0 as d → ∞ (G_∞(0) = 0: the only unit rank-1 matrices on S_0 are ±W*, and −W* is not on it).
- ``--zero-trend``: an independent check of ``G_d(0)`` at d ≥ 3: nested sampling's ``G_d(ε)`` on the ladder
  ``--ladder`` (it cannot reach 0) beside angular_smc's ``G_d(0)`` on the same problem, and the weighted
  straight-line intercept of nested's G over the smallest three ε (G_d(ε) − G_d(0) = O(ε) for a posterior
  density smooth across the band). Agreement within the printed SEs is evidence, not proof: the intercept
  assumes the linear regime has been reached.
- ``--full-estimate``: the time of one depth_theorem --full G&C point (ε = 0.0035) per depth with angular_smc, and
  the implied --full runtime for Figure 2's settings (d = 2…10, 8 seeds, three activations) on 2 cores.
- ``--rip``: :func:`numerics.gnc_limits.informative_rip_setting` for (m, n) pairs, δ_2 lower bounds, chance, the
  largest ε with bound < chance, the local-law slope κ and the implied ratio G_∞/bound ≈ κ / (bound/ε).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from numerics.factorization import Factorization
from numerics.gnc import estimate, guess_and_check
from numerics.problems import random_problem
from numerics.gnc_limits import informative_rip_setting
from theory.depth_theorem import local_limit_law

WORKERS = 2


def line(label, est, wall):
    return (f"  {label:<12} G = {est.G:.5g} ± {est.G_se:.2g} (dof {est.se_dof:.3g}), p = {est.p_accept:.3g} ± "
            f"{est.p_se:.2g}, ess = {est.ess:.4g}, {wall:.1f} s wall -> {est.ess / wall:.4g} effective samples/s; "
            f"{est.note}")


def timed(run):
    t0 = time.perf_counter()
    value = run()
    return value, time.perf_counter() - t0


def speed(args):
    prob = random_problem(5, 5, 1, 15, np.random.default_rng(args.seed))
    fact = Factorization(5, 5, 5, 10, "linear", "normalized")
    eps = 0.0035
    print(f"== speed: k = 5, d = 10, eps = {eps}, linear, normalized prior (load {os.getloadavg()[0]:.1f})")
    rows = {}
    for name, kwargs in (
            ("angular", dict(method="angular", draws=args.angular_draws)),
            ("angular_smc", dict(method="angular_smc", draws=0,
                                 options={"particles": args.particles, "moves": args.moves, "replicates": 4,
                                          "inner": 2})),
            ("nested", dict(method="nested", draws=0,
                            options={"particles": args.nested_particles, "moves": args.nested_moves,
                                     "replicates": 8}))):  # defaults: depth_theorem's --full setting
        (est,), wall = timed(lambda kw=kwargs: estimate(prob, fact, eps, rng=np.random.default_rng(args.seed + 1),
                                                        workers=WORKERS, **kw))
        rows[name] = (est, wall)
        print(line(name, est, wall), flush=True)
    n_base = 200_000
    _, base_wall = timed(lambda: guess_and_check(prob, fact, eps, n_base, np.random.default_rng(3),
                                                 sampler="materialized", workers=WORKERS))
    p = rows["nested"][0].p_accept
    base = n_base / base_wall * p
    print(f"  materialized rejection: {n_base / base_wall:.4g} draws/s x p = {p:.3g} (nested) -> {base:.4g} "
          "effective samples/s")
    nested_rate = rows["nested"][0].ess / rows["nested"][1]
    for name in ("angular", "angular_smc"):
        est, wall = rows[name]
        rate = est.ess / wall
        print(f"  {name}: {rate / nested_rate:.3g}x nested, {rate / base:.3g}x materialized rejection "
              f"(target >= 10x nested: {'met' if rate >= 10 * nested_rate else 'NOT met'})")


def depth_zero(args):
    prob = random_problem(5, 5, 1, 15, np.random.default_rng(args.seed))
    print(f"== G_d(0), rank-1 W*, m = m' = 5, n = 15, k = 5, linear, normalized prior; angular_smc "
          f"({args.particles} particles, {args.moves} moves, 4 replicates, inner 2)")
    for d in args.depths:
        fact = Factorization(5, 5, 5, d, "linear", "normalized")
        (est,), wall = timed(lambda: estimate(prob, fact, 0.0, method="angular_smc", draws=0,
                                              rng=np.random.default_rng(args.seed + d), workers=WORKERS,
                                              options={"particles": args.particles, "moves": args.moves,
                                                       "replicates": 4, "inner": 2}))
        print(f"  d = {d:>2}: G_d(0) = {est.G:.4g} ± {est.G_se:.2g} (3 dof), ess {est.ess:.4g}, C = {est.C:.4g}, "
              f"{wall:.0f} s; {est.note}", flush=True)


def zero_trend(args):
    prob = random_problem(5, 5, 1, 15, np.random.default_rng(args.seed))
    ladder = sorted(args.ladder, reverse=True)
    print(f"== G_d(eps) by nested (8 x {args.nested_particles} particles, {args.nested_moves} moves) on eps = "
          f"{ladder} vs G_d(0) by angular_smc (8 x {args.particles} particles, {args.moves} moves, inner 2); "
          "rank-1 W*, m = m' = 5, n = 15, k = 5, linear, normalized prior")
    for d in args.depths:
        fact = Factorization(5, 5, 5, d, "linear", "normalized")
        nested, wall_n = timed(lambda: estimate(prob, fact, ladder, method="nested", draws=0,
                                                rng=np.random.default_rng(args.seed + 100 + d), workers=WORKERS,
                                                options={"particles": args.nested_particles,
                                                         "moves": args.nested_moves, "replicates": 8}))
        (zero,), wall_z = timed(lambda: estimate(prob, fact, 0.0, method="angular_smc", draws=0,
                                                 rng=np.random.default_rng(args.seed + d), workers=WORKERS,
                                                 options={"particles": args.particles, "moves": args.moves,
                                                          "replicates": 8, "inner": 2}))
        small = sorted(nested, key=lambda e: e.eps)[:3]
        x = np.array([e.eps for e in small])
        y = np.array([e.G for e in small])
        w = 1 / np.array([e.G_se for e in small]) ** 2
        X = np.stack([np.ones_like(x), x], axis=1)
        cov = np.linalg.inv(X.T @ (w[:, None] * X))
        b = cov @ X.T @ (w * y)
        ladder_text = ", ".join(f"{e.eps:g}: {e.G:.4g} ± {e.G_se:.2g}" for e in nested)
        print(f"  d = {d:>2}: nested G(eps) {ladder_text} ({wall_n:.0f} s); intercept {b[0]:.4g} ± "
              f"{np.sqrt(cov[0, 0]):.2g}; angular_smc G(0) = {zero.G:.4g} ± {zero.G_se:.2g} (ess {zero.ess:.3g}, "
              f"{wall_z:.0f} s); difference / combined SE = "
              f"{(zero.G - b[0]) / np.hypot(zero.G_se, np.sqrt(cov[0, 0])):.2f}", flush=True)


def full_estimate(args):
    prob = random_problem(5, 5, 1, 15, np.random.default_rng(args.seed))
    total = 0.0
    print(f"== one --full point (eps = 0.0035) per depth, angular_smc ({args.particles} particles, {args.moves} "
          "moves, 4 replicates)")
    for d in range(2, 11):
        fact = Factorization(5, 5, 5, d, "linear", "normalized")
        (est,), wall = timed(lambda: estimate(prob, fact, 0.0035, method="angular_smc", draws=0,
                                              rng=np.random.default_rng(d), workers=WORKERS,
                                              options={"particles": args.particles, "moves": args.moves,
                                                       "replicates": 4, "inner": 2}))
        total += wall
        print(f"  d = {d:>2}: {wall:.1f} s, G = {est.G:.4g} ± {est.G_se:.2g}, ess {est.ess:.4g}", flush=True)
    print(f"  one seed, one activation, d = 2..10: {total:.0f} s; x 8 seeds x 3 activations = "
          f"{24 * total / 60:.0f} min on 2 threads (target <= 30 min)")


def rip(args):
    print("== informative RIP settings (normalized Gaussian sensing, rank-1 W*)")
    for m, n in args.rip:
        (s, wall) = timed(lambda m=m, n=n: informative_rip_setting(np.random.default_rng(args.seed), m=m, mp=m, n=n,
                                                                  restarts=8))
        law = local_limit_law(s.problem)
        per_eps = s.bound(1.0)
        print(f"  {m}x{m}, n = {n}: {s.rip.statement()}; chance {s.chance:.4g}; bound = {per_eps:.4g} eps "
              f"(< chance for eps < {s.eps_max:.3g}); local law G_inf ~ {law.kappa:.4g} eps for eps << "
              f"{law.scale:.3g} -> G_inf/bound ~ {law.kappa / per_eps:.3g}; {wall:.0f} s", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speed", action="store_true")
    parser.add_argument("--depth-zero", action="store_true")
    parser.add_argument("--full-estimate", action="store_true")
    parser.add_argument("--zero-trend", action="store_true")
    parser.add_argument("--ladder", type=lambda s: [float(x) for x in s.split(",")], default=[3e-3, 1e-3, 3e-4, 1e-4])
    parser.add_argument("--nested-particles", type=int, default=1000)
    parser.add_argument("--nested-moves", type=int, default=20)
    parser.add_argument("--rip", type=lambda s: [tuple(int(x) for x in p.split(":")) for p in s.split(",")],
                        default=None, help="m:n pairs, e.g. 20:200,20:380")
    parser.add_argument("--depths", type=lambda s: [int(x) for x in s.split(",")], default=[2, 3, 4, 5, 6, 8, 10])
    parser.add_argument("--particles", type=int, default=300)
    parser.add_argument("--moves", type=int, default=10)
    parser.add_argument("--angular-draws", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args(argv)
    print(f"load before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {WORKERS} worker threads")
    if args.speed:
        speed(args)
    if args.depth_zero:
        depth_zero(args)
    if args.zero_trend:
        zero_trend(args)
    if args.full_estimate:
        full_estimate(args)
    if args.rip:
        rip(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
