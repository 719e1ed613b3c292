"""Colour decorrelation shared by the spectral parameterizations and the spectrum tools.

Natural RGB images have strongly correlated channels. Optimising in a decorrelated basis
(the square root of the ImageNet colour covariance, Olah et al. 2017) lets each channel of
the parameterization move independently; ``recorrelate`` maps back to RGB.
"""

from __future__ import annotations

import numpy as np

__all__ = ["COLOR_CORRELATION", "decorrelate", "recorrelate_matrix"]

# Square root of the ImageNet RGB covariance (Olah et al. 2017), columns normalised so the
# largest has unit norm: recorrelation never amplifies a channel.
_SVD_SQRT = np.array(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float64
)
COLOR_CORRELATION: np.ndarray = (_SVD_SQRT / np.linalg.norm(_SVD_SQRT, axis=0).max()).astype(
    np.float32
)


def recorrelate_matrix() -> np.ndarray:
    """Return the (3, 3) matrix ``M`` such that ``rgb = decorrelated @ M``.

    Example
    -------
    >>> import numpy as np
    >>> from xmaco.color import recorrelate_matrix, decorrelate
    >>> rgb = np.random.default_rng(0).random((4, 4, 3)).astype("float32")
    >>> np.allclose(decorrelate(rgb) @ recorrelate_matrix(), rgb, atol=1e-5)
    True
    """
    return COLOR_CORRELATION.T.copy()


def decorrelate(rgb: np.ndarray) -> np.ndarray:
    """Map RGB values (last axis of size 3) into the decorrelated colour space.

    Parameters
    ----------
    rgb
        Array of shape (..., 3).

    Returns
    -------
    np.ndarray
        Array of the same shape, in the basis where ``recorrelate_matrix`` brings it back.

    Example
    -------
    >>> import numpy as np
    >>> decorrelate(np.ones((2, 2, 3))).shape
    (2, 2, 3)
    """
    rgb = np.asarray(rgb, dtype=np.float32)
    if rgb.shape[-1] != 3:
        raise ValueError(f"Expected rgb with a last axis of size 3. Received shape {rgb.shape}.")
    return (rgb @ np.linalg.inv(recorrelate_matrix())).astype(np.float32)
