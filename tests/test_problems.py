"""Sensing/completion problems: losses against direct formulas, the complement projection, validation."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from numerics.problems import (SensingProblem, load_problem, random_problem, save_problem)
from verify.errors import UserInputError

dims = st.tuples(st.integers(1, 5), st.integers(1, 5)).filter(lambda t: t[0] * t[1] >= 2)


@given(dims=dims, data=st.data(), seed=st.integers(0, 2 ** 32 - 1),
       kind=st.sampled_from(["sensing", "completion"]))
def test_losses_match_direct_formulas(dims, data, seed, kind):
    m, mp = dims
    rank = data.draw(st.integers(1, min(m, mp)))
    n = data.draw(st.integers(1, m * mp - 1))
    rng = np.random.default_rng(seed)
    prob = random_problem(m, mp, rank, n, rng, kind=kind)
    assert np.isclose(np.linalg.norm(prob.W_star), 1.0)
    assert np.linalg.matrix_rank(prob.W_star) == rank
    W = rng.standard_normal((7, m, mp))
    train = [np.mean([(np.sum(Ai * Wb) - np.sum(Ai * prob.W_star)) ** 2 for Ai in prob.A]) for Wb in W]
    # P⊥ by least squares on the measurement span, independent of the SVD basis used inside
    Af = prob.A.reshape(n, -1)
    resid = [(Wb - prob.W_star).reshape(-1) for Wb in W]
    perp = [r - Af.T @ np.linalg.lstsq(Af.T, r, rcond=None)[0] for r in resid]
    gen = [p @ p / (m * mp - np.linalg.matrix_rank(Af)) for p in perp]
    np.testing.assert_allclose(prob.train_loss(W), train, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(prob.gen_loss(W), gen, rtol=1e-10, atol=1e-14)
    assert prob.train_loss(prob.W_star) < 1e-28 and prob.gen_loss(prob.W_star) < 1e-28
    assert np.allclose(prob.complement @ Af.T, 0, atol=1e-12)
    assert prob.b_size == m * mp - n


@given(seed=st.integers(0, 2 ** 32 - 1))
def test_completion_gen_loss_is_mse_on_unobserved_entries(seed):
    rng = np.random.default_rng(seed)
    prob = random_problem(4, 5, 2, 9, rng, kind="completion")
    observed = prob.A.sum(axis=0).astype(bool)
    W = rng.standard_normal((4, 5))
    assert np.isclose(prob.gen_loss(W), np.mean((W - prob.W_star)[~observed] ** 2))


def test_user_problem_round_trip(tmp_path):
    prob = random_problem(5, 5, 1, 15, np.random.default_rng(0))
    save_problem(tmp_path / "p.npz", prob)
    back = load_problem(tmp_path / "p.npz")
    assert np.array_equal(back.A, prob.A) and np.array_equal(back.W_star, prob.W_star)


@pytest.mark.parametrize("arrays, message", [
    (dict(A=np.ones((3, 2, 2))), "lacks"),
    (dict(A=np.ones((3, 2)), W_star=np.ones((2, 2))), "3-d"),
    (dict(A=np.random.default_rng(0).normal(size=(3, 2, 2)), W_star=np.ones((2, 3))), "shape"),
    (dict(A=np.full((3, 2, 2), np.nan), W_star=np.ones((2, 2))), "finite"),
    (dict(A=np.random.default_rng(0).normal(size=(4, 2, 2)), W_star=np.ones((2, 2))), "n < m m'"),
    (dict(A=np.ones((2, 2, 2)), W_star=np.ones((2, 2))), "linearly dependent"),
])
def test_bad_problem_files_are_rejected(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(UserInputError, match=message):
        load_problem(tmp_path / "bad.npz")


def test_missing_or_unreadable_problem_file(tmp_path):
    with pytest.raises(UserInputError, match="no such file"):
        load_problem(tmp_path / "nope.npz")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(UserInputError, match="cannot read"):
        load_problem(tmp_path / "junk.npz")


def test_sensing_problem_is_frozen():
    prob = random_problem(3, 3, 1, 4, np.random.default_rng(1))
    assert isinstance(prob, SensingProblem)
    with pytest.raises(AttributeError):
        prob.W_star = None
