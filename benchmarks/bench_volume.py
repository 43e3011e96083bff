"""Accepted G&C models per second: ``numerics.gnc_classifier.guess_and_check`` vs a batched baseline written the
way the papers' G&C code works (Chiang et al. 2023; Peleg & Hein 2024): every parameter of every model
materialized from torch's generator, every model evaluated on all n training points with batched per-model
matrix products (no shared first-layer GEMM), no label-swap symmetry, no early rejection. Same machine, same
prior (U(−1, 1), biases included), same data (two-class digits), same float64, one run; the accepted models'
test accuracies are measured by both (every accepted model).

Also: an ablation (each speed-up switched off in turn) and the peak resident memory of a fresh process as
the number of draws grows (flat: the chunk size comes from the memory budget, not from the draws).

    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python benchmarks/bench_volume.py [--n 16] [--draws 200000]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from numerics.datasets import digits_task  # noqa: E402
from numerics.gnc_classifier import guess_and_check, margins  # noqa: E402
from numerics.models import make_model, sample_prior  # noqa: E402


def baseline(model, ds, draws, generator, chunk=2048):
    """The papers' way, batched: all parameters per model, every model on all n points, one decision."""
    X = torch.as_tensor(ds.X_train)
    y = torch.as_tensor(ds.y_train)
    Xt, yt = torch.as_tensor(ds.X_test), torch.as_tensor(ds.y_test)
    accepted, accs = 0, []
    done = 0
    while done < draws:
        b = min(chunk, draws - done)
        theta = sample_prior(model, "uniform", b, generator)
        (W1, b1), (W2, b2) = model.layers(theta)
        h = torch.relu(torch.bmm(X.expand(b, *X.shape), W1.transpose(1, 2)) + b1.unsqueeze(1))
        logits = torch.bmm(h, W2.transpose(1, 2)) + b2.unsqueeze(1)
        ok = (logits.argmax(-1) == y).all(-1)
        good = theta[ok]
        accepted += int(ok.sum())
        if len(good):
            accs.append((margins(model, good, Xt, yt) > 0).double().mean(-1))
        done += b
    return accepted, torch.cat(accs) if accs else torch.zeros(0)


def timed(fn):
    """CPU seconds of this process (the machine is shared: CPU time is steadier than wall time)."""
    start = time.process_time()
    out = fn()
    return out, time.process_time() - start


def peak_rss_mb(draws: int, n: int) -> float:
    """Peak RSS (MB) of a fresh process that runs the package's G&C with ``draws`` draws."""
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r});"
            "import resource, torch; from numerics.datasets import digits_task;"
            "from numerics.models import make_model; from numerics.gnc_classifier import guess_and_check;"
            f"ds = digits_task((3, 8), {n}, 0); m = make_model('mlp', 64, 2, width=32);"
            f"guess_and_check(m, ds, prior='uniform', draws={draws}, generator=torch.Generator().manual_seed(0),"
            " max_test_models=1000);"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--draws", type=int, default=200_000)
    ap.add_argument("--pair", default="3,8")
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    pair = tuple(int(c) for c in args.pair.split(","))
    ds = digits_task(pair, args.n, data_seed=0)
    model = make_model("mlp", 64, 2, width=args.width, bias=True)
    kw = dict(prior="uniform", draws=args.draws, n_list=[args.n])
    (b_acc, b_accs), b_t = timed(lambda: baseline(model, ds, args.draws, torch.Generator().manual_seed(1)))
    rows = {"baseline (papers' way)": (b_acc, b_t, float(b_accs.mean()) if len(b_accs) else float("nan"), 1)}
    variants = {"package (all speed-ups)": {},
                "  without label-swap symmetry": {"symmetry": False},
                "  without early rejection": {"early_reject": False},
                "  with torch's sampler": {"sampler": "torch"}}
    for name, extra in variants.items():
        res, t = timed(lambda: guess_and_check(model, ds, generator=torch.Generator().manual_seed(2), **kw, **extra)[0])
        rows[name] = (res.accepted, t, res.test_acc_mean, 2 if res.symmetry else 1)
    base_rate, base_eff = b_acc / b_t, args.draws / b_t
    print(f"digits {pair[0]} vs {pair[1]}, n = {args.n}, MLP 64-{args.width}-2 with biases, U(-1, 1), "
          f"{args.draws} draws, float64, {torch.get_num_threads()} thread")
    # accepted counts are Poisson-noisy (~10 % here); the ratio of prior-draw equivalents per second (draws · k
    # / s, k = 2 with the symmetry: each draw is accepted with probability k p) is the same ratio without it
    print(f"{'variant':34s} {'accepted':>9s} {'CPU s':>8s} {'accepted/s':>11s} {'ratio':>7s} "
          f"{'draw-eq/s':>10s} {'ratio':>7s} {'test acc':>9s}")
    out = {}
    for name, (acc, t, ta, k) in rows.items():
        rate, eff = acc / t, k * args.draws / t
        out[name.strip()] = {"accepted": acc, "seconds": t, "rate": rate, "ratio": rate / base_rate,
                             "draw_equivalents_per_s": eff, "ratio_draw_equivalents": eff / base_eff, "test_acc": ta}
        print(f"{name:34s} {acc:9d} {t:8.2f} {rate:11.1f} {rate / base_rate:7.2f} {eff:10.0f} {eff / base_eff:7.2f} "
              f"{ta:9.4f}")
    mem = {d: peak_rss_mb(d, args.n) for d in (args.draws // 8, args.draws // 2, 2 * args.draws)}
    print("peak RSS of a fresh process (MB) by draws: " + ", ".join(f"{d}: {m:.0f}" for d, m in mem.items()))
    out["peak_rss_mb"] = mem
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
