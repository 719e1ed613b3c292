"""xmaco.evaluate: the model reads the central part of each visualization."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from xmaco.evaluate import recognise
from xmaco.result import Result


def colour_model(activation: str | None = None) -> keras.Model:
    """Logit c = 10 x the mean of channel c over the 8x8 input."""
    inputs = keras.Input((8, 8, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    layer = keras.layers.Dense(3, use_bias=False, activation=activation, name="logits")
    model = keras.Model(inputs, layer(pooled))
    layer.set_weights([10.0 * np.eye(3, dtype="float32")])
    return model


def red_centre_on_blue(count: int = 1) -> Result:
    """16x16 canvases: blue everywhere but a red 8x8 centre (the central half)."""
    image = np.zeros((16, 16, 3), "float32")
    image[..., 2] = 1.0
    image[4:12, 4:12] = (1.0, 0.0, 0.0)
    return Result(
        images=np.repeat(image[None], count, axis=0),
        transparency=np.ones((count, 16, 16, 3), "float32"),
        history=np.zeros((2, count), "float32"),
        names=["logits[0]"] * count,
        config={"classes": [0] * count},
    )


def test_the_central_half_decides():
    (centre,) = recognise(colour_model(), red_centre_on_blue())
    assert centre.top == [0, 1, 2]  # k=5 is more than the 3 classes: all, ties in order
    assert centre.top1 and centre.target_rank == 1
    expected = np.exp([10.0, 0.0, 0.0]) / np.exp([10.0, 0.0, 0.0]).sum()
    np.testing.assert_allclose(centre.probabilities, sorted(expected, reverse=True), rtol=1e-4)
    (whole,) = recognise(colour_model(), red_centre_on_blue(), fraction=1.0)
    assert whole.top[0] == 2 and whole.target_rank == 2 and not whole.top1 and whole.top5


def test_a_softmax_output_is_not_softmaxed_again():
    (found,) = recognise(colour_model("softmax"), red_centre_on_blue(), classes=[1], k=2)
    assert found.target == 1 and found.top[0] == 0 and len(found.top) == 2
    assert sum(found.probabilities) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"classes": [0, 1]}, "classes"),
        ({"classes": [3]}, "classes"),
        ({"fraction": 0.0}, "fraction"),
        ({"k": 0}, "k"),
    ],
)
def test_bad_arguments_are_named(kwargs, argument):
    with pytest.raises(ValueError, match=f"Expected {argument}"):
        recognise(colour_model(), red_centre_on_blue(), **kwargs)


def test_classes_are_required_without_config():
    run = red_centre_on_blue()
    bare = Result(run.images, run.transparency, run.history, run.names, config={})
    with pytest.raises(ValueError, match="Expected classes"):
        recognise(colour_model(), bare)
