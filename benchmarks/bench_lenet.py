"""Accepted G&C models per second for LeNet-0.5: ``numerics.gnc_lenet.guess_and_check_lenet`` (float32 pass with
float64 re-checks; shared conv-1 GEMM, early rejection with compaction, label-swap symmetry) against a
Chiang-style baseline written here the way their G&C code evaluates LeNets: the M models of a chunk as the
groups of grouped convolutions, the input repeated M times along the channels, every model on all n
training images, one decision per model, float32 throughout, parameters drawn by torch's generator (U(−1, 1)
on every parameter, Chiang et al.'s prior). Same machine, same prior, same data, same n, interleaved repeats;
both measure the test accuracy of every accepted model.

Two ratios are printed: the measured one (accepted models / s, each side's own count) and the one from draw
throughput (the fast path's symmetry accepts a draw with probability 2p, the baseline with p; the tests show
both sample the same law), which is far less noisy when few models are accepted.

    python benchmarks/bench_lenet.py [--n 16] [--draws 40000] [--baseline-draws 8000] [--threads 1]
    python benchmarks/bench_lenet.py --device cuda         # prints "not run: no GPU" without one
    python benchmarks/bench_lenet.py --dataset mnist --data-root ~/data
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from numerics.gnc_lenet import RecheckStats, guess_and_check_lenet  # noqa: E402
from numerics.lenet import lenet_for  # noqa: E402
from numerics.local_data import chiang_task, digits_splits, protocol_task  # noqa: E402


def chiang_style(model, ds, draws, generator, device, chunk=1024):
    """Grouped convolutions over M models, input repeated M times, every model on all n images, float32."""
    c1, c2, h1, h2 = model.sizes
    cin, (H, W) = model.in_channels, model.image_shape
    X = torch.as_tensor(ds.X_train, dtype=torch.float32, device=device).reshape(-1, cin, H, W)
    y = torch.as_tensor(ds.y_train, device=device)
    Xt = torch.as_tensor(ds.X_test, dtype=torch.float32, device=device).reshape(-1, cin, H, W)
    yt = torch.as_tensor(ds.y_test, device=device)

    def logits(theta, images):
        M = theta.shape[0]
        (w1, w2, w3, w4, w5), (b1, b2, b3, b4, b5) = model.weights_and_biases(theta)
        x = images.repeat(1, M, 1, 1)
        x = F.max_pool2d(torch.relu(F.conv2d(x, w1.reshape(M * c1, cin, 5, 5), b1.reshape(-1), groups=M)), 2)
        x = F.max_pool2d(torch.relu(F.conv2d(x, w2.reshape(M * c2, c1, 5, 5), b2.reshape(-1), groups=M)), 2)
        x = x.reshape(images.shape[0], M, -1).transpose(0, 1)
        x = torch.relu(torch.baddbmm(b3.unsqueeze(1), x, w3.transpose(1, 2)))
        x = torch.relu(torch.baddbmm(b4.unsqueeze(1), x, w4.transpose(1, 2)))
        return torch.baddbmm(b5.unsqueeze(1), x, w5.transpose(1, 2))

    accepted, done = 0, 0
    while done < draws:
        M = min(chunk, draws - done)
        theta = (torch.rand(M, model.n_params, generator=generator, dtype=torch.float32) * 2 - 1).to(device)
        with torch.no_grad():
            ok = (logits(theta, X).argmax(-1) == y).all(-1)
            good = theta[ok]
            accepted += int(ok.sum())
            for i in range(0, good.shape[0], 64):
                (logits(good[i:i + 64], Xt).argmax(-1) == yt).float().mean(-1).cpu()
        done += M
    if device.type == "cuda":
        torch.cuda.synchronize()
    return accepted


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--draws", type=int, default=40000, help="draws of the package's G&C per repeat")
    ap.add_argument("--baseline-draws", type=int, default=8000, help="draws of the baseline per repeat")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dataset", default="digits", choices=("digits", "mnist", "fashion_mnist", "cifar10"))
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"LeNet-0.5 G&C on {args.device}: not run: no GPU (torch.cuda.is_available() is False on this machine)")
        return 0
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.dataset == "digits":
        ds = protocol_task(digits_splits(28), args.n, args.seed)
    else:
        ds = chiang_task(args.dataset, args.data_root, args.n, args.seed)
    model = lenet_for(ds, 0.5)
    load = os.getloadavg()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{args.threads} thread(s), device {device}; load average at start {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    print(f"data: {ds.name}, n = {args.n}, test images {len(ds.y_test)}; model {model} ({model.n_params} parameters); "
          "prior U(-1, 1) on every parameter")
    rows = {"package float32": [], "package float64": [], "chiang-style": []}
    for rep in range(args.repeats):
        for name in rows:
            g = torch.Generator().manual_seed(args.seed * 1000 + rep)
            t = time.perf_counter()
            if name == "chiang-style":
                acc, draws, k = chiang_style(model, ds, args.baseline_draws, g, device), args.baseline_draws, 1
            else:
                st = RecheckStats()
                prec = name.split()[1]
                draws = args.draws if prec == "float32" else args.draws // 2
                res = guess_and_check_lenet(model, ds, draws=draws, generator=g, n_list=[args.n], precision=prec,
                                            device=device, stats=st)[0]
                acc, k = res.accepted, 2
            dt = time.perf_counter() - t
            rows[name].append((draws, acc, dt, k))
    print(f"{'method':<18}{'draws':>9}{'accepted':>10}{'seconds':>10}{'draws/s':>10}{'accepted/s':>12}{'p_hat':>11}")
    summary = {}
    for name, runs in rows.items():
        draws = sum(r[0] for r in runs)
        acc = sum(r[1] for r in runs)
        dt = sum(r[2] for r in runs)
        k = runs[0][3]
        summary[name] = (draws / dt, acc / dt, acc / (k * draws))
        print(f"{name:<18}{draws:>9}{acc:>10}{dt:>10.1f}{draws / dt:>10.0f}{acc / dt:>12.3f}{acc / (k * draws):>11.2e}")
    base = summary["chiang-style"]
    for name in ("package float32", "package float64"):
        ours = summary[name]
        by_draws = 2 * ours[0] / base[0]
        measured = ours[1] / base[1] if base[1] > 0 else float("inf")
        print(f"{name} / chiang-style at n = {args.n}: {by_draws:.1f}x accepted models per second from draw "
              f"throughput (2 x {ours[0]:.0f} / {base[0]:.0f} draws/s); measured {measured:.1f}x")
    load = os.getloadavg()
    print(f"load average at end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
    if device.type == "cpu":
        print("GPU: not run: no GPU" if not torch.cuda.is_available() else "GPU: run again with --device cuda")
    return 0


if __name__ == "__main__":
    sys.exit(main())
