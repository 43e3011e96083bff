"""Matrix sensing and completion problems (Alexander et al. 2025, the paper's setup).

- Ground truth ``W* = U V`` (U m×r, V r×m' i.i.d. N(0,1)), rescaled to ``‖W*‖_F = 1``.
- Sensing: ``A_i`` i.i.d. N(0,1) entries, each rescaled to ``‖A_i‖_F = 1``; completion: n distinct one-hot
  matrices. Labels ``y_i = ⟨A_i, W*⟩``.
- ``L_train(W) = (1/n) Σ_i (⟨A_i, W⟩ − y_i)²``.
- ``L_gen(W) = ‖P⊥(W − W*)‖_F² / |B|``, P⊥ the projection onto ``span{A_i}^⊥``, ``|B| = m m' − rank{A_i}``.

Matrices are flattened row-major (``vec(W)[i m' + j] = W_ij``); both losses accept any batch shape
``(..., m, m')``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from numerics.errors import UserInputError, require


@dataclass(frozen=True)
class SensingProblem:
    A: np.ndarray  # (n, m, m')
    W_star: np.ndarray  # (m, m')
    kind: str = "sensing"
    A_flat: np.ndarray = field(init=False, repr=False)  # (n, m m')
    y: np.ndarray = field(init=False, repr=False)  # (n,)
    complement: np.ndarray = field(init=False, repr=False)  # (|B|, m m'), orthonormal rows
    _stacked: np.ndarray = field(init=False, repr=False)  # [A_flat; complement], for one matmul per batch
    _offset: np.ndarray = field(init=False, repr=False)  # [y; complement @ vec W*]

    def __post_init__(self):
        A = np.asarray(self.A, dtype=np.float64)
        n, m, mp = A.shape
        A_flat = A.reshape(n, m * mp)
        # Orthonormal basis of the complement of the row space: the trailing right singular vectors.
        _, s, vt = np.linalg.svd(A_flat, full_matrices=True)
        rank = int(np.sum(s > s[0] * max(n, m * mp) * np.finfo(float).eps))
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "W_star", np.asarray(self.W_star, dtype=np.float64))
        object.__setattr__(self, "A_flat", A_flat)
        object.__setattr__(self, "y", A_flat @ self.W_star.reshape(-1))
        object.__setattr__(self, "complement", vt[rank:])
        object.__setattr__(self, "_stacked", np.vstack([A_flat, vt[rank:]]))
        object.__setattr__(self, "_offset", np.concatenate([self.y, vt[rank:] @ self.W_star.reshape(-1)]))

    @property
    def n(self) -> int:
        return self.A.shape[0]

    @property
    def shape(self) -> tuple[int, int]:
        return self.A.shape[1], self.A.shape[2]

    @property
    def b_size(self) -> int:
        """|B| = m m' − rank{A_i}: the dimension of the unmeasured complement."""
        return self.complement.shape[0]

    def losses(self, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(L_train(W), L_gen(W))`` for a batch ``W`` of shape (..., m, m'), with one matrix product."""
        w = np.asarray(W).reshape(*np.shape(W)[:-2], -1)
        sq = (w @ self._stacked.T - self._offset) ** 2
        return np.mean(sq[..., :self.n], axis=-1), np.sum(sq[..., self.n:], axis=-1) / self.b_size

    def train_loss(self, W: np.ndarray) -> np.ndarray:
        return self.losses(W)[0]

    def gen_loss(self, W: np.ndarray) -> np.ndarray:
        return self.losses(W)[1]

    def unmeasured_truth_energy(self) -> float:
        """‖P⊥ W*‖_F² / |B|: the part of the chance level owed to the ground truth."""
        return float(np.sum((self.complement @ self.W_star.reshape(-1)) ** 2) / self.b_size)


def ground_truth(m: int, mp: int, rank: int, rng: np.random.Generator) -> np.ndarray:
    """A rank-``rank`` m×m' matrix ``U V`` with Gaussian factors, rescaled to unit Frobenius norm."""
    require(1 <= rank <= min(m, mp), f"rank must be in [1, min(m, m')] = [1, {min(m, mp)}], got {rank}")
    W = rng.standard_normal((m, rank)) @ rng.standard_normal((rank, mp))
    return W / np.linalg.norm(W)


def gaussian_measurements(n: int, m: int, mp: int, rng: np.random.Generator) -> np.ndarray:
    """n matrices with i.i.d. N(0,1) entries, each rescaled to unit Frobenius norm."""
    A = rng.standard_normal((n, m, mp))
    return A / np.linalg.norm(A, axis=(1, 2), keepdims=True)


def completion_measurements(n: int, m: int, mp: int, rng: np.random.Generator) -> np.ndarray:
    """n distinct one-hot m×m' matrices (observed entries chosen uniformly without replacement)."""
    idx = rng.choice(m * mp, size=n, replace=False)
    A = np.zeros((n, m * mp))
    A[np.arange(n), idx] = 1.0
    return A.reshape(n, m, mp)


MEASUREMENTS = {"sensing": gaussian_measurements, "completion": completion_measurements}


def random_problem(m: int, mp: int, rank: int, n: int, rng: np.random.Generator,
                   kind: str = "sensing") -> SensingProblem:
    """Draw W* then the measurements, as each seed of the paper's experiments does."""
    require(kind in MEASUREMENTS, f"unknown measurement kind {kind!r}; known: {', '.join(MEASUREMENTS)}")
    require(m >= 1 and mp >= 1, f"m and m' must be positive, got {m}, {mp}")
    require(1 <= n < m * mp, f"n must be in [1, m m' - 1] = [1, {m * mp - 1}], got {n}")
    W_star = ground_truth(m, mp, rank, rng)
    return SensingProblem(MEASUREMENTS[kind](n, m, mp, rng), W_star, kind=kind)


def validate_problem_arrays(A, W_star) -> None:
    """Raise :class:`UserInputError` unless (A, W_star) is a usable problem."""
    require(isinstance(A, np.ndarray) and A.ndim == 3, "problem: A must be a 3-d array (n x m x m')")
    require(isinstance(W_star, np.ndarray) and W_star.ndim == 2, "problem: W_star must be a 2-d array (m x m')")
    require(A.shape[1:] == W_star.shape,
            f"problem: A has matrices of shape {A.shape[1:]}, W_star has shape {W_star.shape}")
    require(np.issubdtype(A.dtype, np.number) and np.issubdtype(W_star.dtype, np.number),
            "problem: A and W_star must be numeric")
    require(np.all(np.isfinite(A)) and np.all(np.isfinite(W_star)), "problem: A and W_star must be finite")
    n, m, mp = A.shape
    require(1 <= n < m * mp, f"problem: need 1 <= n < m m' = {m * mp} measurements, got n = {n}")
    rank = np.linalg.matrix_rank(A.reshape(n, -1).astype(float))
    require(rank == n, f"problem: the {n} measurements are linearly dependent (rank {rank}); drop redundant ones")
    require(np.linalg.norm(W_star) > 0, "problem: W_star is zero")


def load_problem(path: str | Path) -> SensingProblem:
    """Load a user problem from ``.npz`` with arrays ``A`` (n×m×m') and ``W_star`` (m×m'), validated."""
    path = Path(path)
    require(path.is_file(), f"problem: no such file {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as exc:
        raise UserInputError(f"problem: cannot read {path} as .npz ({type(exc).__name__})") from None
    missing = {"A", "W_star"} - set(arrays)
    require(not missing, f"problem: {path} lacks array(s) {', '.join(sorted(missing))}")
    validate_problem_arrays(arrays["A"], arrays["W_star"])
    return SensingProblem(arrays["A"].astype(float), arrays["W_star"].astype(float), kind="user")


def save_problem(path: str | Path, problem: SensingProblem) -> None:
    np.savez(path, A=problem.A, W_star=problem.W_star)
