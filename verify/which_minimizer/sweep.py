"""The points of ``which_minimizer`` and their computation.

Independent tasks, each with its own seed: one per random A1 problem, one per antithetic A2 init pair, chunks
of ``INIT_CHUNK`` independent A2 inits per law, the A3 one-point cases, one per generic A3 problem, and one
per (width, init) of the linearization gap. The A2 and gap data sets are drawn once from their own streams and
shared by their tasks. The closed forms the claims test are looked up in ``FORMULAS`` at compute time: a test
replaces one (monkeypatch, in-process run with workers=1) to show the check rejects a wrong formula."""
from __future__ import annotations

import itertools
import math

import numpy as np
import torch

from numerics import linear_optimizers as lo
from numerics.linearized_mlp import NTKMLP, sphere_regression_data
from theory import which_minimizer as theory
from verify.engine import task
from verify.report import jsonable as plain

CONVERGED_RTOL = 1e-13  # a run has converged at this relative residual
CHECK_EVERY = 12  # long runs test convergence every few steps (a residual costs as much as a gradient)
FLOW_RTOL = 1e-10  # Radau tolerance of the AdaGrad flow: its limit then agrees with rtol 1e-12 solves to ~1e-11
INIT_CHUNK = 16  # independent A2 inits per task (each costs one Jacobian and a closed form)
LAWS = {"symmetric": 0.0, "asymmetric": None}  # last-layer mean of the init law (asymmetric: the parameter)

FORMULAS = {"gd": theory.gd_limit, "preconditioned": theory.preconditioned_limit,
            "init_scale": theory.init_scale_coefficients, "adagrad_one_point": theory.adagrad_one_point_limit}


def stream_rng(seed: int, *key: int) -> np.random.Generator:
    """A generator that depends only on the master seed and the stream's key."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=tuple(int(k) for k in key)))


def _data(rng, n_train: int, n_test: int, d: int) -> dict:
    """Training and test sets on the sphere (as lists: they travel with the tasks)."""
    X, y = sphere_regression_data(n_train, d, rng)
    Xt, yt = sphere_regression_data(n_test, d, rng)
    return {"X": X.tolist(), "y": y.tolist(), "X_test": Xt.tolist(), "y_test": yt.tolist()}


def points(params: dict, seed: int, inputs: dict) -> list:
    """Streams: A1 (seed, 0, problem); A2 data (seed, 1), pairs (seed, 1, 0, k), independent inits
    (seed, 1, 1 + law, chunk); A3 one point (seed, 2, 0), problems (seed, 2, 1, i); gap data (seed, 3),
    runs (seed, 3, width index, init)."""
    d = params["input_dim"]
    tasks = [task(f"A1/{i}", {**params, "part": "A1", "index": i}, seed, 0, i) for i in range(params["problems"])]
    a2 = {**params, **_data(stream_rng(seed, 1), params["n_train"], params["n_test"], d)}
    tasks += [task(f"A2/pair/{k}", {**a2, "part": "A2 pair", "index": k}, seed, 1, 0, k, weight=2)
              for k in range(params["pairs"])]
    for li, law in enumerate(LAWS):
        for c, start in enumerate(range(0, params["independent_inits"], INIT_CHUNK)):
            count = min(INIT_CHUNK, params["independent_inits"] - start)
            tasks.append(task(f"A2/{law}/{c}x{count}", {**a2, "part": "A2 linear term", "law": law, "count": count},
                              seed, 1, 1 + li, c))
    tasks.append(task("A3/one_point", {**params, "part": "A3 one point"}, seed, 2, 0))
    tasks += [task(f"A3/{i}", {**params, "part": "A3 problem", "index": i}, seed, 2, 1, i, weight=4)
              for i in range(params["adagrad_problems"])]
    gap = {**params, **_data(stream_rng(seed, 3), params["n_train"], params["n_test"], d)}
    for wi, width in enumerate(sorted(params["widths"])):
        tasks += [task(f"gap/{width}/{s}", {**gap, "part": "gap", "width": width, "index": s}, seed, 3, wi, s)
                  for s in range(params["gap_seeds"])]
    return tasks


def compute(t) -> list[dict]:
    return plain(_PARTS[t.params["part"]](t.params, t))


def _rel(a: np.ndarray, b: np.ndarray, scale: float) -> float:
    return float(np.linalg.norm(a - b) / scale)


# ---- A1: GD, SGD, momentum, preconditioner -----------------------------------------------------------------

def _random_problem(rng, n: int, p: int):
    """J (n×p) with random singular vectors and singular values in [1, 4]; θ0, the output at init f0 and
    targets y with N(0, 1) entries: (model, θ0, r0)."""
    J, theta0 = lo.random_jacobian(n, p, rng), rng.standard_normal(p)
    f0, y = rng.standard_normal(n), rng.standard_normal(n)
    return lo.LinearModel.from_linearization(J, f0, theta0, y), theta0, y - f0


def _optimizer_suite(model: lo.LinearModel, params: dict, rng):
    """P and (label, group, rule, batches) for every optimizer of claim A1 on this problem; the group names
    the closed form it must reach and the claim it counts for."""
    n, beta, bs = model.n, params["momentum"], params["batch_size"]
    row_max = float(np.max(np.sum(model.J ** 2, axis=1)))  # bounds every mini-batch Hessian
    hi, _ = model.hessian_extremes()
    A = rng.standard_normal((model.p, model.p))
    P = A @ A.T / model.p + 0.1 * np.eye(model.p)
    p_row_max = float(np.max(np.einsum("ij,jk,ik->i", model.J, P, model.J)))
    p_hi = float(np.linalg.eigvalsh(model.J @ P @ model.J.T)[-1]) / n
    batches = [list(range(k, min(k + bs, n))) for k in range(0, n, bs)]
    return P, [
        ("GD", "GD", lo.HeavyBall(model.optimal_gd_rate()), lo.full_batch(n)),
        (f"heavy ball (beta={beta:g})", "GD", lo.HeavyBall(1.0 / hi, momentum=beta), lo.full_batch(n)),
        ("SGD reshuffled", "SGD", lo.HeavyBall(1.0 / row_max), lo.reshuffled(n, bs, rng)),
        ("SGD random batches + step sizes", "SGD", lo.HeavyBall(lambda t: rng.uniform(0.2, 1.0) / row_max),
         lo.independent_batches(n, bs, rng)),
        ("SGD random partitions", "SGD", lo.HeavyBall(0.5 / row_max), lo.random_partitions(n, 2 * bs, rng)),
        ("SGD fixed order", "SGD", lo.HeavyBall(1.0 / row_max), lo.fixed_order(batches)),
        ("SGD fixed reversed order", "SGD", lo.HeavyBall(1.0 / row_max), lo.fixed_order(batches[::-1])),
        (f"SGD + momentum (beta={beta:g})", "SGD", lo.HeavyBall((1 - beta) / row_max, momentum=beta),
         lo.reshuffled(n, bs, rng)),
        ("preconditioned GD", "preconditioned", lo.HeavyBall(1.0 / p_hi, precond=P), lo.full_batch(n)),
        ("preconditioned SGD", "preconditioned", lo.HeavyBall(0.5 / p_row_max, precond=P),
         lo.reshuffled(n, bs, rng)),
    ]


def _a1_problem(params: dict, t) -> list[dict]:
    """A1 on one random problem: every optimizer's limit against its closed form."""
    rng = t.rng()
    n = int(rng.integers(params["batch_size"] + 1, params["max_rows"] + 1))
    model, theta0, r0 = _random_problem(rng, n, int(rng.integers(2 * n, 3 * n + 1)))
    gd = FORMULAS["gd"](model.J, r0, theta0)
    scale = float(np.linalg.norm(theory.gd_limit(model.J, r0, theta0) - theta0))
    P, suite = _optimizer_suite(model, params, rng)
    rows = []
    for label, group, rule, batches in suite:
        res = lo.run(model, theta0, rule, batches, rtol=CONVERGED_RTOL, max_steps=200_000, check_every=CHECK_EVERY)
        target = FORMULAS["preconditioned"](model.J, r0, theta0, P) if group == "preconditioned" else gd
        rows.append({"kind": "limit_distance", "experiment": "A1", "problem": params["index"], "optimizer": label,
                     "group": group, "n": n, "p": model.p, "steps": res.steps, "converged": bool(res.converged),
                     "to_own_closed_form": _rel(res.theta, target, scale), "to_gd": _rel(res.theta, gd, scale)})
    return rows


# ---- A2: init-scale law and remedies -----------------------------------------------------------------------

def _a2_setup(params: dict):
    """The net and the shared data: (net, X_all (train then test), n_train, y, y_test)."""
    X, Xt = (torch.as_tensor(params[k], dtype=torch.float64) for k in ("X", "X_test"))
    return (NTKMLP(params["input_dim"], (params["width"],)), torch.cat([X, Xt]), X.shape[0],
            np.asarray(params["y"]), np.asarray(params["y_test"]))


def _linearization(net: NTKMLP, theta0: torch.Tensor, X: torch.Tensor, n_train: int):
    """(J, J_test, g0, g0_test) of the unscaled net at θ0 as numpy arrays."""
    J = net.jacobian(theta0, X).numpy()
    g = net(theta0, X).detach().numpy()
    return J[:n_train], J[n_train:], g[:n_train], g[n_train:]


def _a2_pair(params: dict, t) -> list[dict]:
    """One antithetic pair (θ0 and θ0 with the last layer negated): GD test MSEs at every α and the kernel
    closed forms A, B, C of each init."""
    net, X, n, y, yt = _a2_setup(params)
    theta0 = net.init(t.torch_generator())
    rows = []
    for sign, th in ((1, theta0), (-1, net.flip_last_layer(theta0))):
        J, Jt, g0, g0t = _linearization(net, th, X, n)
        (mse, centered, doubled), ok = lo.init_scale_test_mse(J, Jt, g0, g0t, th.numpy(), y, yt, params["alphas"],
                                                              rtol=CONVERGED_RTOL, check_every=CHECK_EVERY)
        c = FORMULAS["init_scale"](J, Jt, g0, g0t, y, yt)
        rows.append({"kind": "a2_init", "pair": params["index"], "sign": sign, "mse": mse, "mse_centered": centered,
                     "mse_doubled": doubled, "A": float(c.A), "B": float(c.B), "C": float(c.C), "converged": bool(ok)})
    return rows


def independent_linear_terms(net, gen, Xall, n, y, yt, count, last_layer_mean, coefficients):
    """The linear coefficient B of ``count`` independent inits (closed form, A1 having checked GD = it)."""
    out = []
    for _ in range(count):
        J, Jt, g0, g0t = _linearization(net, net.init(gen, last_layer_mean=last_layer_mean), Xall, n)
        out.append(coefficients(J, Jt, g0, g0t, y, yt).B)
    return np.asarray(out)


def _a2_linear_term(params: dict, t) -> list[dict]:
    net, X, n, y, yt = _a2_setup(params)
    mean = params["asymmetric_mean"] if LAWS[params["law"]] is None else LAWS[params["law"]]
    B = independent_linear_terms(net, t.torch_generator(), X, n, y, yt, params["count"], mean, FORMULAS["init_scale"])
    return [{"kind": "a2_linear_term", "law": params["law"], "last_layer_mean": mean, "B": float(b)} for b in B]


# ---- A3: AdaGrad -------------------------------------------------------------------------------------------

def _a3_one_point(params: dict, t) -> list[dict]:
    rng, p = t.rng(), params["adagrad_cols"]
    errors, equal_gap, generic_gap, converged = [], [], [], True
    for case in range(4):
        j = rng.standard_normal(p)
        if case == 0:
            j = np.sign(j) * abs(rng.standard_normal())  # all |j_i| equal
        theta0, r0 = rng.standard_normal(p), float(rng.standard_normal())
        model = lo.LinearModel.from_linearization(j[None, :], [0.0], theta0, [r0])
        scale = abs(r0) / np.linalg.norm(j)
        for c in (0.3, 1.7):  # first step undershoots / overshoots the interpolating hyperplane
            res = lo.run(model, theta0, lo.AdaGrad(c * abs(r0) / np.sum(np.abs(j))), lo.full_batch(1),
                         rtol=1e-14, max_steps=200_000)
            converged &= bool(res.converged)
            errors.append(_rel(res.theta, FORMULAS["adagrad_one_point"](j, r0, theta0), scale))
            (equal_gap if case == 0 else generic_gap).append(_rel(res.theta, theory.gd_limit(j[None, :], [r0],
                                                                                               theta0), scale))
    return [{"kind": "adagrad_one_point", "errors": errors, "equal_gap": equal_gap, "generic_gap": generic_gap,
             "converged": converged}]


def _adagrad_at_each_lr(model: lo.LinearModel, theta0: np.ndarray, lrs: np.ndarray) -> lo.OptResult:
    """Full-batch AdaGrad at every learning rate, side by side as the columns of one run."""
    columns = lo.LinearModel(model.J, np.tile(model.b[:, None], len(lrs)))
    return lo.run(columns, np.tile(theta0[:, None], len(lrs)), lo.AdaGrad(lrs), lo.full_batch(model.n),
                  rtol=CONVERGED_RTOL, max_steps=2_000_000, check_every=CHECK_EVERY)


def _each_batch_order(model: lo.LinearModel, theta0: np.ndarray, lr: float):
    """(order, AdaGrad run, SGD run) for every cyclic order of single-example batches (all n! of them)."""
    sgd_lr = 1.0 / float(np.max(np.sum(model.J ** 2, axis=1)))
    for order in itertools.permutations(range(model.n)):
        batches = [[i] for i in order]
        yield order, *(lo.run(model, theta0, rule, lo.fixed_order(batches), rtol=CONVERGED_RTOL,
                              max_steps=2_000_000, check_every=CHECK_EVERY)
                       for rule in (lo.AdaGrad(lr), lo.HeavyBall(sgd_lr)))


def _a3_problem(params: dict, t) -> list[dict]:
    """One generic AdaGrad problem: limits at every learning rate, the flow limit, every batch order."""
    n, p, index = params["adagrad_rows"], params["adagrad_cols"], params["index"]
    lrs = np.sort(np.asarray(params["adagrad_lrs"], dtype=float))[::-1]
    model, theta0, r0 = _random_problem(t.rng(), n, p)
    scale = float(np.linalg.norm(theory.gd_limit(model.J, r0, theta0) - theta0))
    gd = FORMULAS["gd"](model.J, r0, theta0)  # the closed form the C4 SGD claim tests
    unit = scale / math.sqrt(p)  # AdaGrad's first step moves every coordinate by lr
    res = _adagrad_at_each_lr(model, theta0, lrs * unit)
    converged, tails = bool(res.converged), [res.tail / scale]
    limits = res.theta.T
    flow = lo.adagrad_flow_limit(model, theta0, rtol=FLOW_RTOL)
    to_flow = [_rel(th, flow, scale) for th in limits]
    rows = []
    for lr, th, e in zip(lrs, limits, to_flow):
        rows.append({"kind": "adagrad_lr", "problem": index, "lr": float(lr), "to_flow": e})
        rows.append({"kind": "limit_distance", "experiment": "A3", "problem": index, "lr": float(lr),
                     "optimizer": "AdaGrad full batch (each lr)", "to_gd": _rel(th, gd, scale)})
    rows.append({"kind": "limit_distance", "experiment": "A3", "problem": index,
                 "optimizer": "AdaGrad flow (lr -> 0)", "to_gd": _rel(flow, gd, scale)})
    order_limits, to_full, sgd_orders = [], [], []
    for order, ada, sgd in _each_batch_order(model, theta0, lrs[0] * unit):  # largest lr: fewest steps
        converged &= bool(ada.converged and sgd.converged)
        tails.append(ada.tail / scale)
        order_limits.append(ada.theta)
        to_full.append(_rel(ada.theta, limits[0], scale))
        sgd_orders.append(_rel(sgd.theta, gd, scale))
        rows.append({"kind": "limit_distance", "experiment": "C4", "problem": index,
                     "optimizer": "AdaGrad, 1-example batches (each order)", "order": list(order),
                     "to_gd": _rel(ada.theta, gd, scale), "to_full_batch": to_full[-1]})
    rows.append({"kind": "adagrad_problem", "problem": index, "lrs": lrs, "to_flow": to_flow,
                 "to_gd": [_rel(th, gd, scale) for th in limits],
                 "consecutive": [_rel(a, b, scale) for a, b in zip(limits[:-1], limits[1:])],
                 "order_gaps": [_rel(a, b, scale) for a, b in itertools.combinations(order_limits, 2)],
                 "to_full": to_full, "sgd_orders": sgd_orders, "tails": tails, "converged": converged})
    return rows


# ---- linearization gap vs width ----------------------------------------------------------------------------

def _gap_run(params: dict, t) -> list[dict]:
    """One init at one width: GD on the net and on its linearization, the RMS gap of their test outputs."""
    n, steps, width = params["n_train"], params["gap_steps"], params["width"]
    X, Xt = (torch.as_tensor(params[k], dtype=torch.float64) for k in ("X", "X_test"))
    y = torch.as_tensor(params["y"], dtype=torch.float64)
    net = NTKMLP(params["input_dim"], (width,))
    theta0 = net.init(t.torch_generator())
    J = net.jacobian(theta0, X).numpy()
    model = lo.LinearModel.from_linearization(J, net(theta0, X).detach().numpy(), theta0.numpy(), y.numpy())
    lr = 1.0 / model.hessian_extremes()[0]
    lin = lo.run(model, theta0.numpy(), lo.HeavyBall(lr), lo.full_batch(n), rtol=0.0, max_steps=steps)
    f_lin = net.linearized(theta0, torch.as_tensor(lin.theta), Xt)
    f_net = net(net.train_gd(theta0, X, y, lr, steps), Xt)
    return [{"kind": "gap_run", "width": width, "init": params["index"],
             "gap": float(torch.sqrt(torch.mean((f_net - f_lin) ** 2))), "train_residual_linear": lin.residual}]


_PARTS = {"A1": _a1_problem, "A2 pair": _a2_pair, "A2 linear term": _a2_linear_term, "A3 one point": _a3_one_point,
          "A3 problem": _a3_problem, "gap": _gap_run}
