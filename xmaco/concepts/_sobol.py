"""Total-order Sobol indices of concepts (CRAFT): masks on the concept coefficients, Jansen."""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from ._activations import Reader, head_model, pictures_of
from ._arguments import bounded_count, class_layer_name, class_of
from ._decomposition import EPSILON, project

__all__ = ["SobolImportance", "sobol_importance", "total_order"]

# Bootstrap replicates behind the stated error: enough for two significant digits.
_REPLICATES = 200


@dataclasses.dataclass(frozen=True, eq=False)
class SobolImportance:
    """Total-order Sobol indices of concepts, with their error, as :func:`sobol_importance`
    estimates them.

    Attributes
    ----------
    indices
        (k,) the total-order index of each concept, averaged over the images: the share of
        the variance of the target (the class logit) that the concept's mask explains, alone
        or with the others. Each is in [0, 1] (up to the estimator's error); they sum to 1
        or more (more: interactions).
    error
        (k,) the estimator's standard error on ``indices`` (a bootstrap over the designs).
    per_image
        (N, k) the indices of each image.
    designs
        The number of designs (rows of each Sobol matrix).
    seed
        The seed of the scrambled Sobol sequence.
    target
        What the indices explain, e.g. ``"class logit"``.

    Example
    -------
    >>> import numpy as np
    >>> indices = total_order(lambda maps: maps[:, 0] @ [3.0, 1.0],
    ...     np.ones((1, 1, 2)), np.eye(2), designs=64, seed=0)
    >>> indices.indices.round(1), indices.designs
    (array([0.9, 0.1]), 64)
    """

    indices: np.ndarray
    error: np.ndarray
    per_image: np.ndarray
    designs: int
    seed: int
    target: str

    def record(self) -> dict[str, Any]:
        """The settings to keep beside the indices (JSON-ready).

        Example
        -------
        >>> import numpy as np
        >>> total_order(lambda maps: maps.sum(axis=(1, 2)), np.ones((2, 1, 1)), np.eye(1),
        ...     designs=8, seed=3).record()
        {'method': 'sobol', 'estimator': 'jansen', 'designs': 8, 'seed': 3, 'images': 2, \
'target': 'class logit'}
        """
        return {
            "method": "sobol",
            "estimator": "jansen",
            "designs": self.designs,
            "seed": self.seed,
            "images": int(self.per_image.shape[0]),
            "target": self.target,
        }


def sobol_importance(
    model: Any,
    layer: str | int,
    images: Any,
    vectors: Any,
    class_index: int | str,
    designs: int = 32,
    seed: int = 0,
    class_layer: str | int | None = None,
    batch_size: int = 256,
    values_range: tuple[float, float] | None = None,
    model_input_size: int | tuple[int, int] | None = None,
) -> SobolImportance:
    """Total-order Sobol indices of concepts for the class logit, estimated as CRAFT does.

    For each image, the activations ``a`` of ``layer`` are split at every position into the
    concepts and a residual, ``a = U W + R`` (``W`` the concept ``vectors``, ``U >= 0`` the
    non-negative projection of each position on them). Quasi-Monte-Carlo masks
    ``m in [0, 1]^k`` (a scrambled Sobol sequence in the Saltelli design: two matrices ``A``
    and ``B`` of ``designs`` rows, and ``A`` with column i taken from ``B`` for each concept i)
    scale the coefficients; ``(U * m) W + R`` goes through the rest of the network to the class
    logit ``f(m)``. Jansen's estimator gives the total-order index of concept i,
    ``mean((f(A) - f(A_B^i))^2) / (2 Var f)``: the share of the logit's variance over the masks
    that involves concept i. The indices are averaged over the images; their error is a
    bootstrap over the designs. The cost is ``designs * (k + 2)`` passes of the rest of the
    network per image.

    Parameters
    ----------
    model
        A Keras model with one image input.
    layer
        The layer of the concepts (name or index).
    images
        Images of the class (N, H, W, C) in the model's input range, each resized to the model
        input, or a folder of image files.
    vectors
        (k, C) the concept directions, e.g. ``bank.vectors``.
    class_index
        The class: an index into the class layer, or an ImageNet class name.
    designs
        Rows of each Sobol matrix, a power of two >= 2 (the sequence is balanced at powers of
        two); the error falls roughly as ``1 / designs``.
    seed
        Seed of the scrambling of the Sobol sequence.
    class_layer
        The layer holding the class scores; None: the model's last layer. It must be computed
        from ``layer`` alone.
    batch_size
        Masked activation maps per model call.
    values_range
        The model's input range, to read a folder; None: the range recorded on the model.
    model_input_size
        (height, width), when the model's input size is unknown.

    Returns
    -------
    SobolImportance
        ``indices`` (k,), ``error`` (k,), ``per_image`` (N, k) and the settings.

    Example
    -------
    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((8, 8, 3)),
    ...     keras.layers.Conv2D(4, 3, activation="relu", name="features"),
    ...     keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    >>> images = np.random.default_rng(0).random((3, 8, 8, 3))
    >>> found = sobol_importance(model, "features", images, np.eye(4)[:2], 1, designs=16)
    >>> found.indices.shape, found.per_image.shape, found.designs
    ((2,), (3, 2), 16)
    """
    from ..objectives import _resolve_layer

    name, _ = _resolve_layer(model, layer)
    pictures = pictures_of(model, images, values_range, model_input_size)
    batch_size = bounded_count(batch_size, "batch_size", 1, None, "")
    head_layer = class_layer_name(model, class_layer)
    classes = int(np.prod(model.get_layer(head_layer).output.shape[1:]))
    index, _ = class_of(class_index, classes)
    maps = Reader.of(model, name, pictures, batch_size).whole()
    return total_order(
        logit_of(model, name, head_layer, index), maps, vectors, designs, seed, batch_size
    )


def logit_of(model: Any, layer: str, head_layer: str, index: int) -> Callable:
    """``maps -> class logit`` through the part of ``model`` above ``layer``."""
    head = head_model(model, layer, head_layer)

    def logit(maps: np.ndarray) -> np.ndarray:
        out = head(tf.constant(maps, tf.float32), training=False)
        return np.asarray(out, np.float64).reshape(len(maps), -1)[:, index]

    return logit


def total_order(
    function: Callable[[np.ndarray], np.ndarray],
    maps: Any,
    vectors: Any,
    designs: int = 32,
    seed: int = 0,
    batch_size: int = 256,
    target: str = "class logit",
) -> SobolImportance:
    """Total-order Sobol indices of concepts for any function of a layer's activations.

    The estimator behind :func:`sobol_importance`, for a function given directly: ``function``
    maps a batch of activation maps (B, ..., C) to one number each (B,).

    Parameters
    ----------
    function
        The target, e.g. the class logit computed from the layer's activations.
    maps
        (N, ..., C) the activations of N images (positions in the middle axes).
    vectors
        (k, C) non-negative concept directions.
    designs
        Rows of each Sobol matrix, a power of two >= 2.
    seed
        Seed of the scrambling.
    batch_size
        Maps per call of ``function``.
    target
        What ``function`` computes, recorded on the result.

    Returns
    -------
    SobolImportance

    Example
    -------
    >>> import numpy as np
    >>> # f = 2 m_1 + m_2 on one position holding one unit of each concept: the indices are
    >>> # 4/5 and 1/5 (the variances of 2 m_1 and m_2 over uniform masks)
    >>> found = total_order(lambda maps: maps[:, 0] @ [2.0, 1.0], np.ones((1, 1, 2)),
    ...     np.eye(2), designs=256)
    >>> found.indices.round(2)
    array([0.8, 0.2])
    """
    designs = _power_of_two(designs)
    batch_size = bounded_count(batch_size, "batch_size", 1, None, "")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"Expected seed to be an int. Received: seed={seed!r}")
    maps = np.asarray(maps, np.float32)
    w = np.asarray(vectors, np.float32)
    if maps.ndim < 2 or w.ndim != 2 or w.shape[1] != maps.shape[-1]:
        raise ValueError(
            f"Expected vectors to be a (k, C) array with C the layer's channels "
            f"({maps.shape[-1] if maps.ndim else '?'}). Received: vectors of shape {w.shape}"
        )
    positions = maps.reshape(len(maps), -1, maps.shape[-1])
    coefficients = project(positions.reshape(-1, w.shape[1]), w).astype(np.float32)
    coefficients = coefficients.reshape(len(maps), positions.shape[1], len(w))
    masks = sobol_masks(len(w), designs, int(seed))
    outputs = np.stack(
        [
            _masked_outputs(function, image, weights, w, masks, maps.shape[1:], batch_size)
            for image, weights in zip(positions, coefficients, strict=True)
        ]
    )
    per_image = jansen(outputs, len(w), designs)
    error = _bootstrap_error(outputs, len(w), designs, int(seed))
    return SobolImportance(
        indices=per_image.mean(axis=0),
        error=error,
        per_image=per_image,
        designs=designs,
        seed=int(seed),
        target=target,
    )


def sobol_masks(dimension: int, designs: int, seed: int) -> np.ndarray:
    """The Saltelli design on a scrambled Sobol sequence: ``[A; B; A_B^1; ...; A_B^k]``,
    ``designs * (dimension + 2)`` masks of ``dimension`` values in [0, 1]."""
    try:
        from scipy.stats import qmc
    except ImportError:
        raise ImportError(
            "Expected scipy to be installed: the Sobol importance draws its masks from "
            "scipy.stats.qmc.Sobol (pip install scipy), or rank by importance='share'. "
            "Received: no module named 'scipy'"
        ) from None
    points = qmc.Sobol(2 * dimension, scramble=True, rng=np.random.default_rng(seed))
    sample = points.random_base2(int(np.log2(designs)))
    a, b = sample[:, :dimension], sample[:, dimension:]
    mixed = []
    for i in range(dimension):
        c = a.copy()
        c[:, i] = b[:, i]
        mixed.append(c)
    return np.concatenate([a, b, *mixed]).astype(np.float32)


def jansen(outputs: np.ndarray, dimension: int, designs: int) -> np.ndarray:
    """Jansen's total-order estimator for each image: outputs (N, designs * (k + 2)) in the
    order of :func:`sobol_masks` -> (N, k). Zero where the output does not vary."""
    f_a = outputs[:, :designs]
    f_b = outputs[:, designs : 2 * designs]
    f_c = outputs[:, 2 * designs :].reshape(len(outputs), dimension, designs)
    variance = np.concatenate([f_a, f_b], axis=1).var(axis=1)
    squares = np.mean(np.square(f_a[:, None, :] - f_c), axis=2) / 2.0
    flat = variance <= EPSILON * (1.0 + np.abs(outputs).max(axis=1) ** 2)
    return np.where(flat[:, None], 0.0, squares / np.where(flat, 1.0, variance)[:, None])


def _bootstrap_error(outputs: np.ndarray, dimension: int, designs: int, seed: int) -> np.ndarray:
    """Standard error of the image-averaged indices: the designs (rows of A, B and every
    A_B^i together) resampled with replacement."""
    rng = np.random.default_rng([seed, 1])
    blocks = outputs.reshape(len(outputs), dimension + 2, designs)
    replicates = []
    for _ in range(_REPLICATES):
        rows = rng.integers(0, designs, designs)
        resampled = blocks[:, :, rows].reshape(len(outputs), -1)
        replicates.append(jansen(resampled, dimension, designs).mean(axis=0))
    return np.std(replicates, axis=0)


def _masked_outputs(function, positions, weights, vectors, masks, shape, batch_size):
    """``function((U * m) W + R)`` for every mask ``m``, for one image."""
    residual = positions - weights @ vectors
    outputs = []
    for start in range(0, len(masks), batch_size):
        batch = masks[start : start + batch_size]
        maps = (weights[None] * batch[:, None, :]) @ vectors + residual[None]
        values = np.asarray(function(maps.reshape(len(batch), *shape)), np.float64)
        outputs.append(values.reshape(len(batch)))
    return np.concatenate(outputs)


def _power_of_two(designs: Any) -> int:
    valid = isinstance(designs, numbers.Integral) and not isinstance(designs, bool)
    if not valid or designs < 2 or designs & (designs - 1):
        raise ValueError(
            "Expected designs to be a power of two >= 2 (a Sobol sequence is balanced at "
            f"powers of two). Received: designs={designs!r}"
        )
    return int(designs)
