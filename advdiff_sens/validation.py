"""Argument validation shared by every public entry point.

Each helper raises ``TypeError`` or ``ValueError`` whose message names the argument and
states what was expected, so that bad input never turns into a silent wrong answer or a
deep numpy traceback.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp

__all__ = [
    "as_real_array",
    "as_array",
    "check_positive_scalar",
    "check_nonnegative_scalar",
    "as_times",
    "as_square_operator",
    "as_operator_pair",
    "check_integer",
    "check_callable",
]


def as_array(x, name: str, *, shape: tuple | None = None, ndim: int | None = None,
             allow_complex: bool = True) -> np.ndarray:
    """Convert ``x`` to a finite floating (or complex) ndarray, checking its shape.

    Parameters
    ----------
    x : array_like
        The value to check.
    name : str
        Argument name used in error messages.
    shape : tuple, optional
        Required shape.
    ndim : int, optional
        Required number of dimensions.
    allow_complex : bool
        Whether complex values are accepted.
    """
    if sp.issparse(x):
        raise TypeError(f"{name} must be a dense array, got a scipy sparse matrix")
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - numpy raises many kinds
        raise TypeError(f"{name} must be array_like of numbers, got {type(x).__name__}") from exc
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must be an array of numbers, got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        if not allow_complex:
            raise TypeError(f"{name} must be real, got a complex array")
        arr = arr.astype(np.complex128, copy=False)
    else:
        arr = arr.astype(np.float64, copy=False)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if shape is not None and arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def as_real_array(x, name: str, *, shape: tuple | None = None,
                  ndim: int | None = None) -> np.ndarray:
    """Like :func:`as_array` but rejects complex input."""
    return as_array(x, name, shape=shape, ndim=ndim, allow_complex=False)


def _as_real_scalar(x, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (Real, np.floating, np.integer)):
        if isinstance(x, np.ndarray) and x.ndim == 0 and np.isrealobj(x):
            x = x.item()
        else:
            raise TypeError(f"{name} must be a real number, got {type(x).__name__}")
    x = float(x)
    if not np.isfinite(x):
        raise ValueError(f"{name} must be finite, got {x}")
    return x


def check_positive_scalar(x, name: str) -> float:
    """Return ``float(x)`` after checking that it is a finite number > 0."""
    x = _as_real_scalar(x, name)
    if x <= 0:
        raise ValueError(f"{name} must be > 0, got {x}")
    return x


def check_nonnegative_scalar(x, name: str) -> float:
    """Return ``float(x)`` after checking that it is a finite number >= 0."""
    x = _as_real_scalar(x, name)
    if x < 0:
        raise ValueError(f"{name} must be >= 0, got {x}")
    return x


def check_integer(x, name: str, *, minimum: int | None = None) -> int:
    """Return ``int(x)`` after checking that it is an integer (>= ``minimum``)."""
    if isinstance(x, bool) or not isinstance(x, Integral):
        raise TypeError(f"{name} must be an integer, got {type(x).__name__}")
    x = int(x)
    if minimum is not None and x < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {x}")
    return x


def as_rng(rng, name: str = "rng") -> np.random.Generator:
    """``numpy.random.default_rng(rng)`` for ``None``, a non-negative integer seed, a
    ``SeedSequence`` or a ``Generator``; anything else is an error that names ``name``."""
    if rng is None or isinstance(rng, (np.random.Generator, np.random.SeedSequence,
                                       np.random.BitGenerator)):
        return np.random.default_rng(rng)
    if isinstance(rng, bool) or not isinstance(rng, Integral):
        raise TypeError(f"{name} must be None, an integer seed or a numpy Generator, got "
                        f"{type(rng).__name__}")
    if rng < 0:
        raise ValueError(f"{name} must be a non-negative seed, got {rng}")
    return np.random.default_rng(int(rng))


def as_times(t, name: str = "t") -> tuple[np.ndarray, bool]:
    """Validate a time argument.

    Returns
    -------
    times : ndarray, shape (k,)
        Non-negative, strictly increasing times (``k = 1`` for a scalar).
    scalar : bool
        Whether ``t`` was a scalar (callers then drop the time axis).
    """
    if np.ndim(t) == 0:
        return np.array([check_nonnegative_scalar(t, name)]), True
    times = as_real_array(t, name, ndim=1)
    if times.size == 0:
        raise ValueError(f"{name} must contain at least one time")
    if np.any(times < 0):
        raise ValueError(f"{name} must be >= 0, got minimum {times.min()}")
    if np.any(np.diff(times) <= 0):
        raise ValueError(f"{name} must be strictly increasing")
    return times, False


def as_square_operator(Q, name: str):
    """Check that ``Q`` is a square dense ndarray or scipy sparse matrix with finite entries.

    Returns a CSR matrix for sparse input and a float/complex ndarray for dense input.
    """
    if sp.issparse(Q):
        Q = sp.csr_array(Q)
        if Q.ndim != 2 or Q.shape[0] != Q.shape[1]:
            raise ValueError(f"{name} must be square, got shape {Q.shape}")
        if not np.issubdtype(Q.dtype, np.number):
            raise TypeError(f"{name} must have a numeric dtype, got {Q.dtype}")
        if Q.nnz and not np.all(np.isfinite(Q.data)):
            raise ValueError(f"{name} contains NaN or inf")
        if not np.iscomplexobj(Q.data):
            Q = Q.astype(np.float64)
        return Q
    arr = as_array(Q, name, ndim=2)
    if arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be square, got shape {arr.shape}")
    return arr


def as_operator_pair(Q, J, names: tuple[str, str] = ("Q", "J")):
    """Validate a generator and a direction of the same square shape (see
    :func:`as_square_operator`)."""
    Q = as_square_operator(Q, names[0])
    J = as_square_operator(J, names[1])
    if J.shape != Q.shape:
        raise ValueError(f"{names[1]} must have the shape of {names[0]} {Q.shape}, got {J.shape}")
    return Q, J


def check_callable(fn, name: str) -> None:
    """Raise ``TypeError`` naming ``name`` unless ``fn`` is callable."""
    if not callable(fn):
        raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
