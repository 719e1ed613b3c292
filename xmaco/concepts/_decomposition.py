"""Non-negative matrix factorisation (HALS) and non-negative projection, in NumPy."""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any

import numpy as np

from ._arguments import bounded_count

__all__ = ["EPSILON", "Factorization", "nmf", "project"]

EPSILON = 1e-12
# HALS sweeps per factor and iteration: the two large products dominate an iteration, and
# further sweeps on them are nearly free (Gillis and Glineur, 2012).
_SWEEPS = 3


@dataclasses.dataclass(frozen=True, eq=False)
class Factorization:
    """A non-negative factorisation ``matrix ~= coefficients @ components``.

    Attributes
    ----------
    coefficients
        (n, k) non-negative: how much each row of the matrix expresses each component.
    components
        (k, c) non-negative, each row of unit norm.
    errors
        The relative reconstruction error ``||A - U W||_F / ||A||_F`` after each iteration.

    Example
    -------
    >>> import numpy as np
    >>> f = nmf(np.random.default_rng(0).random((30, 8)), rank=3, seed=0)
    >>> f.coefficients.shape, f.components.shape, bool(f.errors[-1] < f.errors[0])
    ((30, 3), (3, 8), True)
    """

    coefficients: np.ndarray
    components: np.ndarray
    errors: np.ndarray

    @property
    def error(self) -> float:
        """The final relative reconstruction error."""
        return float(self.errors[-1])


def nmf(
    matrix: Any,
    rank: int,
    iterations: int = 500,
    tol: float = 1e-4,
    seed: int = 0,
) -> Factorization:
    """Non-negative matrix factorisation by hierarchical alternating least squares (HALS).

    Minimises ``||A - U W||_F`` over ``U >= 0`` (n, k) and ``W >= 0`` (k, c). Each iteration
    updates every row of ``W``, then every column of ``U``, each in closed form given the
    others (Cichocki and Phan, 2009), so the error never increases. An iteration costs two
    matrix products with ``A`` (``A^T U`` and ``A W^T``) plus a few cheap sweeps; it holds a
    few copies of ``A`` and ``(n + c) k`` numbers, never an n x n array (docs/concepts.md has
    the iterations and times of a 20000 x 1280 matrix).

    Parameters
    ----------
    matrix
        (n, c) non-negative, finite. float64 input is factorised in float64, anything else in
        float32.
    rank
        Number of components k, 1 <= k <= min(n, c).
    iterations
        Maximum number of iterations.
    tol
        Stop when an iteration lowers the relative error by less than ``tol`` times its value.
    seed
        Seed of the random non-negative start.

    Returns
    -------
    Factorization
        With ``components`` scaled to unit rows (``coefficients`` scaled to match).

    Example
    -------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> data = rng.random((200, 2)) @ rng.random((2, 16))
    >>> round(nmf(data, rank=2, seed=0).error, 3)
    0.0
    """
    a = _matrix(matrix)
    rank = bounded_count(rank, "rank", 1, min(a.shape), f"min(n, c) = {min(a.shape)}")
    iterations = bounded_count(iterations, "iterations", 1, None, "")
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not tol >= 0:
        raise ValueError(f"Expected tol to be a number >= 0. Received: tol={tol!r}")
    rng = np.random.default_rng(seed)
    scale = np.sqrt(max(float(a.mean()), EPSILON) / rank)
    u = (rng.random((a.shape[0], rank)) * scale).astype(a.dtype)
    w = (rng.random((rank, a.shape[1])) * scale).astype(a.dtype)
    total = float(np.sum(np.square(a, dtype=np.float64)))
    errors: list[float] = []
    for _ in range(iterations):
        # (A^T U)^T rather than U^T A: the same product, several times faster in OpenBLAS
        _hals_rows(w, (a.T @ u).T, u.T @ u, _SWEEPS)
        # unit rows of W, the scale moves to U: keeps both factors balanced
        norms = np.maximum(np.linalg.norm(w, axis=1), EPSILON)
        w /= norms[:, None]
        u *= norms[None, :]
        a_w = a @ w.T
        w_w = w @ w.T
        _hals_rows(u.T, a_w.T, w_w, _SWEEPS)
        errors.append(_relative_error(total, u, a_w, w_w))
        if len(errors) > 1 and errors[-2] - errors[-1] < tol * errors[-2]:
            break
    return Factorization(u, w, np.asarray(errors))


def project(matrix: Any, components: Any, iterations: int = 100) -> np.ndarray:
    """The non-negative coefficients of rows on fixed components (non-negative least squares).

    Solves ``min ||A - U W||_F`` over ``U >= 0`` for a fixed ``W``, by the same HALS updates
    as :func:`nmf`: how much of each concept new activations hold.

    Parameters
    ----------
    matrix
        (n, c) finite.
    components
        (k, c) non-negative, e.g. ``bank.vectors``.
    iterations
        Number of HALS sweeps.

    Returns
    -------
    numpy.ndarray
        (n, k) non-negative coefficients.

    Example
    -------
    >>> import numpy as np
    >>> project(np.array([[2.0, 3.0, 0.0]]), np.eye(3)[:2]).round(3)
    array([[2., 3.]])
    """
    a = _matrix(matrix, non_negative=False)
    w = np.asarray(components, dtype=a.dtype)
    if w.ndim != 2 or w.shape[1] != a.shape[1] or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(
            f"Expected components to be a finite non-negative (k, {a.shape[1]}) array. "
            f"Received: shape {np.shape(components)}"
        )
    iterations = bounded_count(iterations, "iterations", 1, None, "")
    a_w = a @ w.T
    w_w = w @ w.T
    u = np.maximum(a_w, 0.0) / np.maximum(np.diag(w_w), EPSILON)[None, :]
    for _ in range(iterations):
        _hals_rows(u.T, a_w.T, w_w)
    return u


def _hals_rows(x: np.ndarray, targets: np.ndarray, gram: np.ndarray, sweeps: int = 1) -> None:
    """HALS sweeps over the rows of ``x`` (k, m) in place: row j minimises
    ``||targets_j - sum_i gram_ji x_i||`` with the others fixed, clipped at zero."""
    for _ in range(sweeps):
        for j in range(x.shape[0]):
            step = (targets[j] - gram[j] @ x) / max(float(gram[j, j]), EPSILON)
            np.maximum(x[j] + step, 0.0, out=x[j])


def _relative_error(total: float, u: np.ndarray, a_w: np.ndarray, w_w: np.ndarray) -> float:
    """``||A - U W|| / ||A||`` from ``||A||^2 - 2 <U, A W^T> + <U^T U, W W^T>``, without
    forming ``U W``."""
    cross = float(np.sum(u * a_w, dtype=np.float64))
    gram = float(np.sum((u.T @ u).astype(np.float64) * w_w))
    return float(np.sqrt(max(total - 2.0 * cross + gram, 0.0) / max(total, EPSILON)))


def _matrix(matrix: Any, non_negative: bool = True) -> np.ndarray:
    try:
        a = np.asarray(matrix)
    except (TypeError, ValueError):
        a = np.zeros(0)
    if a.ndim != 2 or min(a.shape) == 0 or not np.issubdtype(a.dtype, np.number):
        raise ValueError(
            f"Expected matrix to be a non-empty 2-D numeric array. Received: shape {np.shape(a)}"
        )
    a = a.astype(np.float64 if a.dtype == np.float64 else np.float32)
    if not np.all(np.isfinite(a)) or (non_negative and a.min() < 0):
        raise ValueError(
            "Expected matrix to be finite"
            + (" and non-negative" if non_negative else "")
            + f". Received: values in [{a.min():.3g}, {a.max():.3g}]"
        )
    return a
