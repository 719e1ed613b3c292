"""The judges of :func:`xmaco.evaluate.transfer`: which networks, how they are loaded and
checked, and what one judge sees in one picture."""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import numpy as np
import tensorflow as tf

from ._common import centre_box, probabilities, ranking
from ._names import DEFAULT_JUDGES, JUDGES

__all__ = ["DEFAULT_JUDGES", "JUDGES", "Judgement"]


@dataclasses.dataclass(frozen=True)
class Judgement:
    """What one judge sees in one picture (see :func:`transfer`).

    Attributes
    ----------
    picture
        Index of the picture.
    judge
        Name of the judging model.
    target
        The class the picture should show.
    probability
        The judge's probability of ``target`` on the central part (softmax of the logits).
    rank
        The rank of ``target`` on the central part (1 = the most probable).
    top
        The judge's five most probable classes on the central part, most probable first.
    crop_top1
        The share of the random crops on which ``target`` is the judge's top-1, in [0, 1].

    Example
    -------
    >>> seen = Judgement(picture=0, judge="efficientnet_lite1", target=1, probability=0.8,
    ...                  rank=1, top=(1, 2, 3, 4, 5), crop_top1=0.5)
    >>> seen.top1, seen.top5
    (True, True)
    """

    picture: int
    judge: str
    target: int
    probability: float
    rank: int
    top: tuple[int, ...]
    crop_top1: float

    @property
    def top1(self) -> bool:
        """Whether ``target`` is the judge's most probable class on the central part."""
        return self.rank == 1

    @property
    def top5(self) -> bool:
        """Whether ``target`` is among the judge's five most probable classes there."""
        return self.rank <= 5


def as_judge(judge: Any) -> Any:
    """A judging model with a fixed input size and a recorded value range."""
    if isinstance(judge, str):
        model = _load_judge(JUDGES.get(judge.casefold().replace("-", "_"), judge))
    else:
        model = judge
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise ValueError(
            "Expected judges to be Keras models or names of models (short names: "
            f"{', '.join(JUDGES)}). Received: {judge!r}"
        )
    shape = tuple(inputs[0].shape)
    if len(shape) != 4 or shape[1] is None or shape[2] is None:
        raise ValueError(
            f"Expected judge '{model.name}' to take images of a fixed size. Received: input "
            f"shape {shape}"
        )
    if getattr(model, "xmaco_values_range", None) is None:
        raise ValueError(
            f"Expected judge '{model.name}' to record its input's value range in "
            "model.xmaco_values_range, e.g. (-1.0, 1.0), as the models of xmaco.zoo do. "
            "Received: no xmaco_values_range"
        )
    return model


@functools.lru_cache(maxsize=8)
def _load_judge(name: str) -> Any:
    # Imported here: the zoo pulls in the model code, which recognise() does not need.
    from xmaco import zoo

    try:
        return zoo.load(name)
    except ValueError as error:
        raise ValueError(
            f"Expected judges to be Keras models, short names ({', '.join(JUDGES)}) or "
            f"catalogue names. {error}"
        ) from None


def judge_picture(
    model: Any,
    picture: np.ndarray,
    boxes: np.ndarray,
    fraction: float,
    target: int,
    index: int,
    batch_size: int,
) -> Judgement:
    size = tuple(int(n) for n in model.inputs[0].shape[1:3])
    regions = [centre_box(*picture.shape[:2], fraction), *map(tuple, boxes)]
    low, high = model.xmaco_values_range
    channels = int(model.inputs[0].shape[-1])
    if picture.shape[-1] == 1 and channels == 3:
        picture = np.repeat(picture, 3, axis=-1)
    if picture.shape[-1] != channels:
        raise ValueError(
            f"Expected images with {channels} channels (or 1) for judge '{model.name}'. "
            f"Received: {picture.shape[-1]} channels"
        )
    # Equal batches (33 views in batches of at most 16: 11, 11, 11), so that the compiled
    # predict function of predict_on_batch is traced for one batch shape, not two.
    per_batch = math.ceil(len(regions) / math.ceil(len(regions) / batch_size))
    rows = []
    for start in range(0, len(regions), per_batch):
        batch = [
            tf.image.resize(
                picture[top : top + length, left : left + length],
                size,
                method="bilinear",
                antialias=True,
            )
            for top, left, length in regions[start : start + per_batch]
        ]
        inputs = low + tf.stack(batch) * (high - low)
        rows.append(np.asarray(model.predict_on_batch(inputs)))
    seen = probabilities(model, np.concatenate(rows))
    centre = seen[0]
    order, rank = ranking(centre, target)
    crop_top1 = (
        float(np.mean(np.argmax(seen[1:], axis=-1) == target)) if len(regions) > 1 else float("nan")
    )
    return Judgement(
        picture=index,
        judge=model.name,
        target=target,
        probability=float(centre[target]),
        rank=rank,
        top=tuple(int(c) for c in order[:5]),
        crop_top1=crop_top1,
    )
