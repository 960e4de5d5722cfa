"""3-vector arithmetic that gives the same bits on every machine: what ``assets/`` is built with.

numpy hands ``np.dot``, ``@``, ``np.linalg.norm`` of a vector and the SVD to BLAS/LAPACK, whose
kernel (chosen per CPU, or by ``OPENBLAS_CORETYPE``) may fuse multiply-adds or sum in another
order, so the last bits of a result depend on the machine. These helpers spell the sums of
products out over the three axes, left to right: numpy's element-wise multiply and add round
each operation on its own (IEEE 754), the same everywhere. Vectors are on the last axis.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def dot(a: npt.ArrayLike, b: npt.ArrayLike) -> np.ndarray:
    """a . b over the last axis, summed x + y + z."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1] + a[..., 2] * b[..., 2]


def norm(v: npt.ArrayLike) -> np.ndarray:
    """Euclidean length over the last axis."""
    return np.sqrt(dot(v, v))


def unit(v: npt.ArrayLike) -> np.ndarray:
    """v over its length (last axis)."""
    v = np.asarray(v, float)
    return v / norm(v)[..., None]


def basis(axis: npt.ArrayLike, helper_axis: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors (e1, e2) completing the unit ``axis`` to a right-handed frame (e1, e2, axis):
    e1 = axis x h normalised, e2 = axis x e1, with h the unit vector along ``helper_axis`` unless the
    axis lies within 26 deg of it, then +x."""
    axis = np.asarray(axis, float)
    k = np.eye(3)[helper_axis] if abs(axis[helper_axis]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e1 = unit(np.cross(axis, k))
    return e1, np.cross(axis, e1)
