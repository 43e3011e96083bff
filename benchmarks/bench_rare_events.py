"""Effective posterior samples per second of the rare-event G&C estimators against materialized rejection
(spec ``sampling.md`` §3–4).

The baseline is the authors' algorithm (Alexander et al. 2025): draw every weight (``sample(...,
sampler="materialized")``) and keep the draws with ``L_train < ε``; its effective samples per second are its
draws/s times the acceptance probability p(ε). At the paper's thresholds p is 1e-5 … 1e-6, so the baseline is
not run to acceptance: its draws/s are measured (``guess_and_check(sampler="materialized", workers=2)``, best of
repeats) and multiplied by p, **measured** by a reference rejection run when that run accepted ≥ 100 draws,
else by the rare-event method's own unbiased p̂ (the tests validate p̂ against rejection); the output says
which. The reference rejection run uses the fastest exact sampler (``auto``: the same law as the materialized
one, tested in ``tests/test_factorization.py``) for a fixed wall-clock budget and serves the agreement check.

Settings (m = m' = 5, rank-1 W*, n = 15 Gaussian sensing, one fixed problem per setting):
- width (Fig 1): ε = 0.02, k = 160, d = 2, gaussian prior, linear and tanh: rbis (judged, target ≥ 1000×) and smc
  (reported);
- depth (Fig 2): ε = 0.0035, k = 5, d = 10, normalized prior, linear: nested (judged, target ≥ 100×); the same
  run also estimates ε = 0.02, where the reference rejection run is precise.
Effective samples: rejection, its accepted draws; rbis, Kish's ESS; smc/nested, their ``ess`` (the number of
independent posterior draws giving the replicate standard error, capped at the particle count). Rates are per
wall-clock second of the whole estimator run (2 worker threads everywhere); [brackets]: per CPU-second.
Agreement rule: |G_method − G_rejection| within the two-sided Welch t-interval at level 1e-3 (degrees of freedom:
each estimate's ``se_dof``: rejection n_accepted − 1, rbis ess − 1, smc/nested replicates − 1); "inconclusive" below 10 accepted draws.
Memory: tracemalloc peaks of rbis at 1× and 4× the draws and of nested at 1× and 4× the moves (flat = streamed).
This script reports; it is not a test: it exits 0 whatever it measures.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from dataclasses import dataclass

import numpy as np

from numerics.factorization import Factorization
from numerics.gnc import GncEstimate, estimate, guess_and_check
from numerics.problems import random_problem
from verify.rules import welch_limit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_samplers import machine_lines  # noqa: E402

WORKERS = 2
ALPHA = 1e-3
WIDTH_EPS, DEPTH_EPS, CHECK_EPS = 0.02, 0.0035, 0.02
TARGETS = {"width": 1000.0, "depth": 100.0}


@dataclass(frozen=True)
class Timed:
    value: object
    wall: float
    cpu: float


def timed(run) -> Timed:
    t0, c0 = time.perf_counter(), time.process_time()
    value = run()
    return Timed(value, time.perf_counter() - t0, time.process_time() - c0)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def draws_per_second(prob, fact, sampler: str, seconds: float, repeats: int, seed: int) -> tuple[float, float]:
    """Best-of-repeats (wall, CPU) draws/s of rejection G&C, one call sized to last ≈ ``seconds``."""
    rng, n = np.random.default_rng(seed), 2 * WORKERS
    while True:  # calibration, also the warm-up
        t = timed(lambda: guess_and_check(prob, fact, WIDTH_EPS, n, rng, sampler=sampler, workers=WORKERS))
        if t.wall >= seconds / 2:
            break
        n = int(np.ceil(n * min(16.0, 1.2 * seconds / max(t.wall, 1e-6))))
    best = [0.0, 0.0]
    for _ in range(repeats):
        t = timed(lambda: guess_and_check(prob, fact, WIDTH_EPS, n, rng, sampler=sampler, workers=WORKERS))
        best = [max(best[0], n / t.wall), max(best[1], n / t.cpu)]
    return best[0], best[1]


def agreement(est: GncEstimate, ref: GncEstimate) -> str:
    if ref.n_accepted < 10 or not np.isfinite(est.G):
        return f"inconclusive ({ref.n_accepted} accepted)"
    limit = welch_limit(est.G_se, est.se_dof, ref.G_se, max(ref.se_dof, 1), ALPHA)
    word = "agree" if abs(est.G - ref.G) <= limit else "DISAGREE"
    return f"{word}: |ΔG| = {abs(est.G - ref.G):.2g} vs limit {limit:.2g}"


def report_setting(name: str, prob, fact: Factorization, eps: float, runs: dict, args, seed: int) -> list:
    """Baseline rate, reference rejection, each method's effective samples/s; returns (name, method, ratio) rows."""
    print(f"\n== {name} setting: {fact.activation.name}, k = {fact.width}, d = {fact.depth}, prior {fact.prior}, "
          f"ε = {eps} (load before: {load()})", flush=True)
    base_wall, base_cpu = draws_per_second(prob, fact, "materialized", args.seconds, args.repeats, seed)
    auto = fact.resolve_sampler("auto")
    auto_wall, _ = draws_per_second(prob, fact, auto, args.seconds / 2, 1, seed + 1)
    eps_list = sorted({eps, CHECK_EPS}, reverse=True) if name == "depth" else [eps]
    n_ref = max(1000, int(auto_wall * args.reject_seconds))
    ref_t = timed(lambda: guess_and_check(prob, fact, eps_list, n_ref, np.random.default_rng(seed + 2),
                                          sampler=auto, workers=WORKERS))
    refs = {r.eps: r for r in ref_t.value}
    print(f"materialized rejection: {base_wall:.4g} draws/s [{base_cpu:.4g}/CPU-s]; reference rejection ({auto}): "
          + "; ".join(f"ε={e:g}: G = {r.G:.4g} ± {r.G_se:.2g}, p = {r.p_accept:.3g} ({r.n_accepted} of {r.n_draws:,})"
                      for e, r in refs.items()) + f" in {ref_t.wall:.0f} s", flush=True)
    rows = []
    for method, opts in runs.items():
        run = timed(lambda: estimate(prob, fact, eps_list, method=method, draws=opts.get("draws", 0),
                                     rng=np.random.default_rng(seed + 3), workers=WORKERS,
                                     options=None if method == "rbis" else {**opts, "workers": WORKERS}))
        ests = {e.eps: e for e in run.value}
        for e in eps_list:
            est, ref = ests[e], refs[e]
            print(f"  {method:<7} ε={e:<7g} G = {est.G:.4g} ± {est.G_se:.2g}, p = {est.p_accept:.3g}, "
                  f"ess = {est.ess:.4g}"
                  f"; {agreement(est, ref)}")
        est, ref = ests[eps], refs[eps]
        p, source = (ref.p_accept, "measured by rejection") if ref.n_accepted >= 100 else \
            (est.p_accept, f"{method}'s p̂ (rejection accepted only {ref.n_accepted})")
        base_eff, base_eff_cpu = base_wall * p, base_cpu * p
        eff, eff_cpu = est.ess / run.wall, est.ess / run.cpu
        ratio = eff / base_eff
        print(f"  {method:<7} {run.wall:.1f} s wall [{run.cpu:.1f} CPU-s]: {eff:.4g} effective samples/s "
              f"[{eff_cpu:.4g}]"
              f" vs baseline {base_eff:.3g}/s [{base_eff_cpu:.3g}] (p = {p:.3g}, {source}): {ratio:.4g}× "
              f"[{eff_cpu / base_eff_cpu:.4g}×]; {est.note}", flush=True)
        rows.append((name, fact.activation.name, method, ratio, eff_cpu / base_eff_cpu))
    return rows


def peak_bytes(run) -> int:
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def memory_lines(prob, width_fact, depth_fact, args) -> list[str]:
    sizes = (args.rbis_draws // 4, args.rbis_draws)
    rbis = [peak_bytes(lambda n=n: estimate(prob, width_fact, WIDTH_EPS, method="rbis", draws=n,
                                           rng=np.random.default_rng(0))) for n in sizes]
    opts = dict(particles=args.particles, replicates=2)
    nested = [peak_bytes(lambda k=k: estimate(prob, depth_fact, DEPTH_EPS, method="nested", draws=0,
                                             rng=np.random.default_rng(0), options={**opts, "moves": k}))
              for k in (5, 20)]
    mib = lambda b: f"{b / 2 ** 20:.1f} MiB"
    return [f"rbis peak (tracemalloc): {mib(rbis[0])} at {args.rbis_draws // 4:,} draws, {mib(rbis[1])} at "
            f"{args.rbis_draws:,}",
            f"nested peak (tracemalloc): {mib(nested[0])} at 5 moves/level, {mib(nested[1])} at 20 ({args.particles} "
            f"particles, 2 replicates)"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run (small budgets, minutes)")
    parser.add_argument("--seconds", type=float, default=None, help="duration of one baseline timing (default 3)")
    parser.add_argument("--repeats", type=int, default=2, help="baseline timing repeats, best taken")
    parser.add_argument("--reject-seconds", type=float, default=None, help="reference rejection budget (default 120)")
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args(argv)
    args.seconds = args.seconds or (1.0 if args.quick else 3.0)
    args.reject_seconds = args.reject_seconds or (15.0 if args.quick else 120.0)
    args.rbis_draws = 20_000 if args.quick else 100_000
    args.particles = 500 if args.quick else 1000
    smc = {"particles": 300 if args.quick else 1000, "moves": 10 if args.quick else 20, "replicates": 4}
    nested = {"particles": args.particles, "moves": 10 if args.quick else 20, "replicates": 4 if args.quick else 8}
    started = time.perf_counter()
    print("\n".join(machine_lines()))
    print(f"uptime load before: {load()}; workers {WORKERS}; m = m' = 5, rank 1, n = 15 sensing; "
          f"baseline timing best of {args.repeats} × ≥ {args.seconds:g} s; reference rejection budget "
          f"{args.reject_seconds:g} s")
    rows = []
    for i, act in enumerate(("linear", "tanh")):
        prob = random_problem(5, 5, 1, 15, np.random.default_rng(args.seed))
        fact = Factorization(5, 5, 160, 2, act)
        rows += report_setting("width", prob, fact, WIDTH_EPS, {"rbis": {"draws": args.rbis_draws},
                                                                 "smc": smc}, args, 100 * i + 1)
    prob = random_problem(5, 5, 1, 15, np.random.default_rng(args.seed))
    depth = Factorization(5, 5, 5, 10, "linear", "normalized")
    rows += report_setting("depth", prob, depth, DEPTH_EPS, {"nested": nested}, args, 1001)
    print("\nmemory (flat in the number of draws / moves):")
    print("\n".join("  " + line for line in memory_lines(prob, Factorization(5, 5, 160, 2, "tanh"), depth, args)))
    print("\ntargets (sampling.md §4), effective samples/s vs materialized rejection, wall clock [CPU-time]:")
    for name, act, method, ratio, ratio_cpu in rows:
        judged = (name, method) in (("width", "rbis"), ("depth", "nested"))
        target = TARGETS[name]
        verdict = ("PASS" if ratio >= target else "FAIL") if judged else "info"
        print(f"  {verdict:<5}{name} {act} {method}: {ratio:.4g}× [{ratio_cpu:.4g}×]"
              + (f" (target ≥ {target:g}×)" if judged else ""))
    print(f"\nwall time {time.perf_counter() - started:.0f} s; uptime load after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
