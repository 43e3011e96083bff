"""RIP measurements and restricted-isometry estimates (numerics.rip).

Rules: exact comparisons to 1e-9 (rounding) unless stated; the optimizer's lower bound must never exceed an
exact value's certified upper end, whatever it finds; agreement of two optimizer runs (orthogonal change of
basis) is required to 1e-6 with 48 restarts each (measured: 1 run in 150 with 16 restarts ends in a local
optimum, so the false-failure rate with 48 restarts is far below 1e-3).
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.problems import SensingProblem, ground_truth
from numerics.rip import (isometry_constants, measurement_ensemble, normalized_operator, operator_scale,
                          planted_rip_violation, quotient, rank_variety_dimension, rip_versus_measurements)
from verify.errors import UserInputError


def orthogonal(k, rng):
    return np.linalg.qr(rng.standard_normal((k, k)))[0]


@given(kind=st.sampled_from(["gaussian", "normalized", "completion"]), m=st.integers(1, 5), mp=st.integers(1, 5),
       seed=st.integers(0, 2 ** 32 - 1), data=st.data())
def test_normalized_operator_has_unit_average_gain(kind, m, mp, seed, data):
    n = data.draw(st.integers(1, m * mp))
    A = measurement_ensemble(kind, n, m, mp, np.random.default_rng(seed))
    op = normalized_operator(A)
    assert A.shape == (n, m, mp)
    assert np.trace(op.T @ op) == pytest.approx(m * mp, rel=1e-12)  # mean of |𝒜X|² over unit X is 1
    if kind != "gaussian":  # unit-norm measurements: the spec's c = sqrt(m m'/n)
        assert operator_scale(A) == pytest.approx(np.sqrt(m * mp / n), rel=1e-12)


@given(m=st.integers(1, 4), mp=st.integers(1, 4), rank=st.integers(1, 3), seed=st.integers(0, 2 ** 32 - 1),
       kind=st.sampled_from(["gaussian", "normalized", "completion"]), data=st.data())
def test_lower_bound_never_exceeds_exact_value(m, mp, rank, seed, kind, data):
    """Exact where solvable (rank >= min(m, m'), or rank 1 with a side of size 2); the optimizer is below it."""
    if not (rank >= min(m, mp) or (rank == 1 and min(m, mp) == 2)):
        rank = min(m, mp)
    n = data.draw(st.integers(1, m * mp + 3)) if kind != "completion" else data.draw(st.integers(1, m * mp))
    rng = np.random.default_rng(seed)
    A = measurement_ensemble(kind, n, m, mp, rng)
    exact = isometry_constants(A, rank, rng, tol=1e-7)
    assert exact.exact and exact.delta_upper - exact.delta_lower <= 1e-7 + 1e-9
    opt = isometry_constants(A, rank, rng, exact="never", restarts=12)
    assert not opt.exact
    assert opt.delta_lower <= exact.delta_upper + 1e-9
    assert opt.delta_minus_lower <= exact.delta_minus_upper + 1e-9
    assert opt.low >= exact.low_floor - 1e-9 and opt.high <= exact.high_ceiling + 1e-9
    # trivial certified ends hold for the optimizer too
    assert opt.delta_lower <= opt.delta_upper + 1e-12


@given(m=st.integers(1, 5), mp=st.integers(1, 5), rank=st.integers(1, 3), seed=st.integers(0, 2 ** 32 - 1),
       data=st.data())
def test_witnesses_certify_the_reported_values(m, mp, rank, seed, data):
    n = data.draw(st.integers(1, 2 * m * mp))
    rng = np.random.default_rng(seed)
    A = measurement_ensemble("normalized", n, m, mp, rng)
    est = isometry_constants(A, rank, rng, restarts=6, max_iter=100)
    op = normalized_operator(A)
    for X, value in ((est.witness_low, est.low), (est.witness_high, est.high)):
        assert np.linalg.norm(X) == pytest.approx(1.0, abs=1e-12)
        assert np.linalg.matrix_rank(X, tol=1e-9) <= rank
        assert quotient(op, X) == pytest.approx(value, rel=1e-12, abs=1e-14)
    assert est.delta_lower == pytest.approx(max(1 - est.low, est.high - 1))
    assert ("LOWER BOUND" in est.statement()) != est.exact


@given(m=st.integers(2, 5), mp=st.integers(2, 5), rank=st.integers(1, 2), seed=st.integers(0, 2 ** 32 - 1),
       data=st.data())
def test_invariance_under_orthogonal_change_of_basis(m, mp, rank, seed, data):
    """A_i -> P A_i Q: the unit rank-r matrices are mapped onto themselves, so δ_r is unchanged."""
    n = data.draw(st.integers(1, m * mp + 4))
    rng = np.random.default_rng(seed)
    A = measurement_ensemble("normalized", n, m, mp, rng)
    P, Q = orthogonal(m, rng), orthogonal(mp, rng)
    B = P @ A @ Q
    a = isometry_constants(A, rank, rng, restarts=48)
    b = isometry_constants(B, rank, rng, restarts=48)
    # witnesses transport exactly: X -> P X Q has the same quotient for B as X for A
    assert quotient(normalized_operator(B), P @ a.witness_low @ Q) == pytest.approx(a.low, rel=1e-10, abs=1e-13)
    assert quotient(normalized_operator(B), P @ a.witness_high @ Q) == pytest.approx(a.high, rel=1e-10)
    assert b.low == pytest.approx(a.low, abs=1e-6) and b.high == pytest.approx(a.high, abs=1e-6)
    assert b.exact == a.exact


def test_completion_is_not_rip():
    """A one-hot matrix on an unobserved entry is rank 1 and invisible: δ_1 ≥ 1 with a zero witness."""
    rng = np.random.default_rng(0)
    A = measurement_ensemble("completion", 15, 5, 5, rng)
    est = isometry_constants(A, 1, rng)
    assert est.low == pytest.approx(0.0, abs=1e-20) and est.delta_lower >= 1.0
    observed = A.sum(axis=0) > 0
    assert np.all(np.abs(est.witness_low[observed]) < 1e-8)  # supported on unobserved entries


def test_rip_fails_below_the_dimension_count_and_sets_in_above():
    """5×5, rank 2: for n < r(m + m' − r) = 16 the optimizer finds null rank-2 matrices (δ_2⁻ = 1 to 1e-10);
    far above, the lower bounds drop below 1 (one-sided from n = 16, two-sided only near n = 100)."""
    assert rank_variety_dimension(5, 5, 2) == 16
    rows = rip_versus_measurements([10, 15, 40, 200], 5, 5, 2, np.random.default_rng(1), draws=2, restarts=8)
    by_n = {r.n: r for r in rows}
    assert np.all(by_n[10].delta_minus_lower > 1 - 1e-10) and np.all(by_n[15].delta_minus_lower > 1 - 1e-10)
    assert np.all(by_n[10].delta_lower > 1) and np.all(by_n[15].delta_lower > 1)  # certified: RIP fails
    assert np.all(by_n[40].delta_minus_lower < 0.99)
    assert np.all(by_n[200].delta_lower < 1) and np.all(by_n[200].delta_upper < 1)  # n ≥ m m': certified


def test_exact_grid_matches_a_dense_scan():
    """The certified 1-d branch and bound (rank 1, a side of size 2) against a brute-force angle scan."""
    rng = np.random.default_rng(4)
    A = measurement_ensemble("normalized", 5, 2, 4, rng)
    est = isometry_constants(A, 1, rng, tol=1e-9)
    op = normalized_operator(A)
    t = np.linspace(0, np.pi, 20001)
    values = []
    for ti in t:
        u = np.array([np.cos(ti), np.sin(ti)])
        rows = np.einsum("a,nab->nb", u, A) * operator_scale(A)
        values.append(np.linalg.eigvalsh(rows.T @ rows)[[0, -1]])
    values = np.array(values)
    assert est.low <= values[:, 0].min() + 1e-12 and est.low >= values[:, 0].min() - 1e-4
    assert est.high >= values[:, 1].max() - 1e-12 and est.high <= values[:, 1].max() + 1e-4
    assert quotient(op, est.witness_low) == pytest.approx(est.low)


@pytest.mark.parametrize("call, message", [
    (lambda: measurement_ensemble("bernoulli", 3, 2, 2, np.random.default_rng(0)), "unknown measurement ensemble"),
    (lambda: measurement_ensemble("completion", 5, 2, 2, np.random.default_rng(0)), "completion needs"),
    (lambda: isometry_constants(np.ones((3, 2, 2)), 0, np.random.default_rng(0)), "rank"),
    (lambda: isometry_constants(np.zeros((3, 2, 2)), 1, np.random.default_rng(0)), "all zero"),
    (lambda: isometry_constants(np.ones((3, 3, 3)), 1, None), "rng"),
])
def test_bad_arguments(call, message):
    with pytest.raises(UserInputError, match=message):
        call()


@settings(max_examples=5)
@given(seed=st.integers(0, 2 ** 32 - 1), m=st.integers(3, 6), extra=st.integers(0, 10))
def test_planted_null_direction_violates_rip_of_order_two(seed, m, extra):
    """``planted_rip_violation``: the rank-2 direction W' − W* is invisible (‖𝒜X‖ = 0 to rounding), W' fits the data
    exactly and is far from W*, so δ_2⁻ = 1 is certified by that witness (the optimizer alone may miss it:
    measured at 20×20, n = 200, it reported δ_2⁻ ≥ 0.91), whatever n; the unplanted ensemble of the same n
    (n = m m' − 1: a single null direction, generically of full rank) keeps its optimizer's λ_low above 1e-8, far
    above the planted case's rounding level (< 1e-12; smallest clean value seen: 4e-4 at m = 3)."""
    rng = np.random.default_rng(seed)
    W_star = ground_truth(m, m, 1, rng)
    n = rank_variety_dimension(m, m, 2) + 2 + extra
    n = min(n, m * m - 1)
    A, W_other = planted_rip_violation(W_star, n, rng)
    X = W_other - W_star
    assert np.linalg.matrix_rank(X, tol=1e-10) == 2
    assert np.allclose(np.linalg.norm(A, axis=(1, 2)), 1.0)
    prob = SensingProblem(A, W_star)
    assert prob.train_loss(W_other) < 1e-25 and prob.gen_loss(W_other) > 1e-4
    est = isometry_constants(A, 2, rng, restarts=4, candidates=X[None])
    assert est.low < 1e-12 and est.delta_minus_lower > 1 - 1e-12
    clean = isometry_constants(measurement_ensemble("normalized", m * m - 1, m, m, rng), 2, rng, restarts=4)
    assert clean.low > 1e-8, clean


def test_candidates_must_have_the_order_rank():
    rng = np.random.default_rng(0)
    A = measurement_ensemble("normalized", 10, 3, 3, rng)
    with pytest.raises(UserInputError, match="candidates must have rank"):
        isometry_constants(A, 1, rng, restarts=2, candidates=np.eye(3)[None])
