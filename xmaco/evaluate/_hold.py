"""Hold: a unit's objective read on fresh random crops of each of its pictures."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import tensorflow as tf

from .._checks import check_count, check_integer
from ..engine import input_size_of
from ..result import Result
from ._common import check_crop_sides, crop_boxes

__all__ = ["Hold", "hold"]


@dataclasses.dataclass(frozen=True)
class Hold:
    """How well each visualization holds: its objective on fresh random crops of itself.

    Attributes
    ----------
    names
        One name per visualization (the objective's).
    scores
        float array (N, crops): the objective of visualization ``i`` on each crop.
    mean
        float array (N,): the mean over the crops, the hold number.
    std
        float array (N,): the spread over the crops (standard deviation).
    crop_sides
        The range of crop sides drawn, as fractions of the picture's shorter side.
    seed
        The seed of the crops; the same seed gives the same crops on any picture.

    Example
    -------
    >>> import numpy as np
    >>> held = Hold(["conv:channel 0"], np.array([[1.0, 3.0]]), np.array([2.0]),
    ...             np.array([1.0]), (0.25, 0.5), 0)
    >>> print(held)
    conv:channel 0: 2 +- 1 (2 crops)
    """

    names: list[str]
    scores: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    crop_sides: tuple[float, float]
    seed: int

    def __str__(self) -> str:
        count = self.scores.shape[1]
        return "\n".join(
            f"{name}: {mean:.4g} +- {std:.2g} ({count} crops)"
            for name, mean, std in zip(self.names, self.mean, self.std, strict=True)
        )


def hold(
    objective: Any,
    pictures: Result | np.ndarray,
    *,
    crops: int = 32,
    crop_sides: tuple[float, float] = (0.25, 0.5),
    seed: int = 0,
    model_input_size: int | tuple[int, int] | None = None,
    batch_size: int = 16,
) -> Hold:
    """Score each visualization on ``crops`` fresh random crops of itself: does it hold?

    An optimised picture can score high only on the views the optimisation saw. Cropping it
    afresh (square crops of random side and position, resized to the model input, as the
    optimisation's own crops) and reading the objective on each crop tells whether the unit's
    pattern fills the picture. The crops depend only on ``seed`` and the canvas size, so two
    pictures of the same size (MACO and Fourier on one unit) are read on the same crops.
    :func:`transfer` asks other networks about a picture; ``hold`` asks the objective itself.

    Parameters
    ----------
    objective
        The :class:`xmaco.Objective` the pictures were made for; visualization ``i`` is scored
        by its term ``i`` (a batch-1 objective scores every picture).
    pictures
        A :class:`xmaco.Result`, or an array (N, H, W, C) or (H, W, C) in the model's value
        range.
    crops
        Crops per picture (default 32).
    crop_sides
        ``(smallest, largest)`` crop side as a fraction of the picture's shorter side, drawn
        uniformly (default ``(0.25, 0.5)``, as :func:`transfer`).
    seed
        Seed of the crops (default 0).
    model_input_size
        ``(height, width)`` the crops are resized to, for a model whose input size is not
        fixed; default: the model's input size.
    batch_size
        Crops per model call (memory, not results).

    Returns
    -------
    Hold
        The scores, their mean (the hold number) and spread per visualization.

    Raises
    ------
    ValueError
        If the pictures do not match the objective's batch or the model's channels, or an
        argument is out of range; the message names the argument.
    TypeError
        If ``objective`` is not an Objective.

    Example
    -------
    >>> import keras, numpy as np, xmaco
    >>> model = keras.Sequential([keras.Input((16, 16, 3)),
    ...                           keras.layers.Conv2D(2, 3, name="conv")])
    >>> objective = xmaco.Objective.channel(model, "conv", [0, 1])
    >>> pictures = np.random.default_rng(0).random((2, 32, 32, 3)).astype("float32")
    >>> held = hold(objective, pictures, crops=4)
    >>> held.scores.shape, held.mean.shape
    ((2, 4), (2,))
    """
    from ..objectives import Objective

    if not isinstance(objective, Objective):
        raise TypeError(
            "Expected objective to be an xmaco.Objective. Received: objective of type "
            f"{type(objective).__name__}"
        )
    images = _hold_pictures(pictures, objective)
    crops = check_count(crops, "crops", minimum=1)
    batch_size = check_count(batch_size, "batch_size", minimum=1)
    low, high = check_crop_sides(crop_sides)
    seed = check_integer(seed, "seed")
    size = input_size_of(objective.model, model_input_size)

    # One set of boxes for every picture: pictures of one size are read on the same crops.
    height, width = images.shape[1:3]
    top, left, side = crop_boxes((height, width), 1, crops, (low, high), seed)[0].T
    # crop_and_resize maps a normalised coordinate c to the pixel c * (size - 1).
    boxes = np.stack(
        [
            top / max(height - 1, 1),
            left / max(width - 1, 1),
            (top + side - 1) / max(height - 1, 1),
            (left + side - 1) / max(width - 1, 1),
        ],
        axis=-1,
    ).astype(np.float32)

    compiled = objective.compile()
    count = len(images)
    owners = np.repeat(np.arange(count, dtype=np.int32), crops)
    all_boxes = np.tile(boxes, (count, 1))
    scores = []
    canvas = tf.constant(images)
    for start in range(0, len(owners), batch_size):
        rows = owners[start : start + batch_size]
        chosen = all_boxes[start : start + batch_size]
        views = tf.image.crop_and_resize(canvas, chosen, rows, size, method="bilinear")
        scores.append(np.asarray(compiled.scores(views, tf.constant(rows), tf.constant(chosen))))
    table = np.concatenate(scores).astype(np.float64).reshape(count, crops)
    names = objective.names if objective.visualizations == count else [objective.names[0]] * count
    return Hold(
        names=list(names),
        scores=table,
        mean=table.mean(axis=1),
        std=table.std(axis=1),
        crop_sides=(low, high),
        seed=seed,
    )


def _hold_pictures(pictures: Any, objective: Any) -> np.ndarray:
    images = pictures.images if isinstance(pictures, Result) else pictures
    try:
        images = np.asarray(images, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(
            "Expected pictures to be an xmaco.Result or an array (N, H, W, C). Received: "
            f"pictures of type {type(pictures).__name__}"
        ) from None
    if images.ndim == 3:
        images = images[None]
    channels = int(objective.model.inputs[0].shape[-1])
    if images.ndim != 4 or images.shape[-1] != channels or min(images.shape[:3]) < 1:
        raise ValueError(
            f"Expected pictures to be an array (N, H, W, {channels}). Received: shape "
            f"{images.shape}"
        )
    if objective.visualizations not in (1, len(images)):
        raise ValueError(
            f"Expected pictures to hold one picture per visualization of the objective "
            f"({objective.visualizations}). Received: {len(images)} pictures"
        )
    if not np.isfinite(images).all():
        raise ValueError("Expected pictures to be finite. Received: NaN or infinite values")
    return images
