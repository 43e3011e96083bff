"""A check whose claims are known true or false by construction, for the calibration tests of the verdict
layer (Holm across claims, sequential rounds). Each seed index draws one normal value per claim; claim i
predicts "mean_i > 0" (``kind="positive"``) or "mean_i = 0" (``kind="zero"``); ``mus`` are the true means."""
from verify.engine import task
from verify.parameters import Param, declare
from verify.rules import agree, interval_claim
from verify.verdicts import ClaimSpec, registry

NAME = "synthetic"
SUMMARY = "normal means, true or false by construction"
PARAMS = declare(seeds=Param(4, low=2, doc="draws per claim"),
                 mus=Param([0.0, 0.0], doc="true means, one per claim"),
                 kind=Param("zero", choices=("zero", "positive"), doc="the prediction of every claim"))
CLAIMS = registry(ClaimSpec("mean", "extension", "this package (test)"))
GROWS = ("seeds",)


def grow(params, round):
    return {**params, "seeds": params["seeds"] * 2 ** (round - 1)}


def points(p, seed, inputs=None):
    return [task(f"seed{i}", {"mus": p["mus"]}, seed, i) for i in range(p["seeds"])]


def compute(t):
    rng = t.rng()
    return [{"seed_index": int(t.seed[1]), "x": (rng.standard_normal(len(t.params["mus"])) + t.params["mus"]).tolist()}]


def judge(rows, p):
    import numpy as np
    x = np.array([r["x"] for r in rows])
    n = x.shape[0]
    out = []
    for i in range(x.shape[1]):
        if p["kind"] == "zero":  # known unit variance: the z test of mean 0
            c = agree(f"mean[{i}]", x[:, i].mean(), 1 / np.sqrt(n), 0.0, alpha=p["alpha"])
        else:
            c = interval_claim(f"mean[{i}]", x[:, i].mean(), 1 / np.sqrt(n), 0.0, alpha=p["alpha"], runs=n)
        out.append(CLAIMS["mean"](c))
    return out


def plot(record, stem):
    return []
