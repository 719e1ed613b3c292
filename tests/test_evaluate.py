"""xmaco.evaluate: self-recognition (the maker reads the central part of each picture) and
transfer (other models, the judges, read the centre and random crops)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from xmaco.evaluate import recognise, transfer
from xmaco.result import Result

DOMESTIC_CATS = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
EGYPTIAN_CAT = 285


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


# --- Transfer: judges that did not make the pictures. ----------------------------------------


def colour_judge(size: int, values_range: tuple[float, float], name: str) -> keras.Model:
    """Logit c = 10 x the mean of channel c, in the judge's own range; any input side."""
    inputs = keras.Input((size, size, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    layer = keras.layers.Dense(3, use_bias=False, name="logits")
    model = keras.Model(inputs, layer(pooled), name=name)
    layer.set_weights([10.0 * np.eye(3, dtype="float32")])
    model.xmaco_values_range = values_range
    return model


@pytest.fixture(scope="module")
def judges():
    return [
        colour_judge(8, (0.0, 1.0), "unit"),
        colour_judge(12, (-1.0, 1.0), "signed"),
    ]


def canvases() -> np.ndarray:
    """Two 32x32 pictures in [0, 1]: red centre on blue, and all blue."""
    pictures = np.zeros((2, 32, 32, 3), "float32")
    pictures[..., 2] = 1.0
    pictures[0, 8:24, 8:24] = (1.0, 0.0, 0.0)
    return pictures


def softmax(logits) -> np.ndarray:
    logits = np.asarray(logits, "float64")
    return np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()


def test_transfer_reads_the_centre_in_each_judges_own_range(judges):
    found = transfer(canvases(), [0, 0], judges, crops=0)
    assert found.judges == ("unit", "signed") and len(found) == 2
    red, blue = found.of("unit")
    # The central half of picture 0 is pure red: logits (10, 0, 0) in [0, 1].
    assert red.probability == pytest.approx(softmax([10, 0, 0])[0], rel=1e-4)
    assert red.top1 and red.top == (0, 1, 2)
    assert blue.rank == 2 and not blue.top1 and blue.top5  # (0, 0, 10): red ties with green
    # In [-1, 1] the absent channels count -1: logits (10, -10, -10).
    signed_red = found.of("signed")[0]
    assert signed_red.probability == pytest.approx(softmax([10, -10, -10])[0], rel=1e-4)
    assert np.isnan(red.crop_top1)


def test_crops_count_the_share_of_top1_crops(judges):
    everywhere_red = np.zeros((1, 40, 40, 3), "float32")
    everywhere_red[..., 0] = 1.0
    assert transfer(everywhere_red, 0, judges, crops=8).summary()["unit"]["crop_top1"] == 1.0
    assert transfer(everywhere_red, 2, judges, crops=8).summary()["signed"]["crop_top1"] == 0.0
    # Red centre on blue: each crop is red or blue, never green; both occur among 64 crops.
    as_red = transfer(canvases()[:1], 0, judges, crops=64, seed=3)
    as_blue = transfer(canvases()[:1], 2, judges, crops=64, seed=3)
    for judge in ("unit", "signed"):
        red, blue = as_red.of(judge)[0].crop_top1, as_blue.of(judge)[0].crop_top1
        assert 0.0 < red < 1.0 and red + blue == pytest.approx(1.0)
    # Both judges see the same boxes, and a seed gives the same boxes again.
    assert as_red.of("unit")[0].crop_top1 == as_red.of("signed")[0].crop_top1
    again = transfer(canvases()[:1], 0, judges, crops=64, seed=3)
    assert again == as_red


def test_crop_sides_bound_the_crops(judges):
    # A 64x64 blue picture with a 12x12 red square in a corner: a crop is red-majority only
    # if its side is under 24 px; crops of 50-100 % (32 px and more) never are.
    picture = np.zeros((64, 64, 3), "float32")
    picture[..., 2] = 1.0
    picture[:12, :12] = (1.0, 0.0, 0.0)
    large = transfer(picture, 0, judges, crops=32, crop_sides=(0.5, 1.0))
    assert large.summary()["unit"]["crop_top1"] == 0.0
    small = transfer(picture, 0, judges, crops=400, crop_sides=(0.05, 0.1), seed=1)
    assert small.summary()["unit"]["crop_top1"] > 0.0


def test_summary_and_tables_are_means_over_pictures(judges):
    found = transfer(canvases(), 0, judges, crops=4)
    means = found.summary()["unit"]
    red, blue = found.of("unit")
    assert means["probability"] == pytest.approx((red.probability + blue.probability) / 2)
    assert means["top1"] == 0.5 and means["top5"] == 1.0
    table = found.table().splitlines()
    assert table[0].split()[0] == "judge" and table[1].startswith("unit") and len(table) == 3
    details = found.details(names=["a.png", "b.png"], labels=["red", "green", "blue"])
    assert "a.png" in details and "red (0)" in details and len(details.splitlines()) == 5
    assert str(found) == found.table()


def test_pictures_as_uint8_results_and_gray(judges):
    pixels = (canvases() * 255).astype("uint8")
    assert transfer(pixels, 0, judges, crops=2) == transfer(canvases(), 0, judges, crops=2)
    signed = canvases() * 2 - 1
    assert transfer(signed, 0, judges, crops=2, values_range=(-1, 1)) == transfer(
        canvases(), 0, judges, crops=2
    )
    run = Result(
        images=signed,
        transparency=np.zeros_like(signed),
        history=np.zeros((1, 2), "float32"),
        names=["logits[0]", "logits[0]"],
        config={"classes": [0, 0], "values_range": [-1.0, 1.0]},
    )
    assert transfer(run, judges=judges, crops=2) == transfer(canvases(), 0, judges, crops=2)
    gray = np.full((16, 16, 1), 0.5, "float32")  # repeated to RGB: the three logits tie
    assert transfer(gray, 1, judges[0], crops=0).of("unit")[0].probability == pytest.approx(
        1 / 3, rel=1e-4
    )


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"classes": [0, 1, 2]}, "classes"),
        ({"classes": [-1]}, "classes"),
        ({"classes": [3]}, "classes"),
        ({"crops": -1}, "crops"),
        ({"crop_sides": (0.5, 0.25)}, "crop_sides"),
        ({"fraction": 1.5}, "fraction"),
        ({"values_range": (1, 0)}, "values_range"),
        ({"batch_size": 0}, "batch_size"),
        ({"judges": []}, "judges"),
    ],
)
def test_transfer_names_bad_arguments(judges, kwargs, argument):
    arguments = {"classes": 0, "judges": judges, **kwargs}
    with pytest.raises(ValueError, match=f"Expected {argument}"):
        transfer(canvases(), **arguments)


def test_judges_need_a_fixed_size_and_a_values_range():
    bare = colour_judge(8, (0.0, 1.0), "bare")
    del bare.xmaco_values_range
    with pytest.raises(ValueError, match="Expected judge 'bare' to record its input's value"):
        transfer(canvases(), 0, bare)
    inputs = keras.Input((None, None, 3))
    free = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(inputs), name="free")
    free.xmaco_values_range = (0.0, 1.0)
    with pytest.raises(ValueError, match="Expected judge 'free' to take images of a fixed size"):
        transfer(canvases(), 0, free)
    with pytest.raises(ValueError, match="Close matches: 'efficientnet_lite1'"):
        transfer(canvases(), 0, "efficientnet-lite-1x")
    with pytest.raises(TypeError, match="Expected images"):
        transfer("picture.png", 0, bare)


def test_a_real_judge_sees_the_cat():
    skimage_data = pytest.importorskip("skimage.data")
    found = transfer(skimage_data.chelsea(), EGYPTIAN_CAT, ["lite1", "mobilenet"], crops=8)
    assert found.judges == ("efficientnet_lite1", "mobilenet_v1_025")
    for judgement in found.judgements:
        assert judgement.top[0] in DOMESTIC_CATS and judgement.top5
    assert found.of("efficientnet_lite1")[0].top1


# ---------------------------------------------------------------------------- hold
def mean_colour_model(size=(16, 16)) -> keras.Model:
    """An identity 1 x 1 convolution: channel c of 'colour' is channel c of the input."""
    inputs = keras.Input((*size, 3))
    layer = keras.layers.Conv2D(3, 1, use_bias=False, name="colour")
    outputs = layer(inputs)
    layer.set_weights([np.eye(3, dtype="float32")[None, None]])
    return keras.Model(inputs, outputs, name="colour_model")


def test_hold_scores_crops_the_size_of_the_input_exactly():
    from numpy.lib.stride_tricks import sliding_window_view

    from xmaco import Objective
    from xmaco.evaluate import hold

    model = mean_colour_model()
    picture = np.random.default_rng(0).random((32, 32, 3)).astype("float32")
    # A side of half the 32-pixel picture is the 16-pixel input: no resampling at all.
    held = hold(Objective.channel(model, "colour", 1), picture, crops=12, crop_sides=(0.5, 0.5))
    windows = sliding_window_view(picture[:, :, 1], (16, 16)).mean(axis=(-1, -2)).ravel()
    for score in held.scores[0]:
        assert np.abs(windows - score).min() < 1e-5
    assert held.scores.shape == (1, 12)
    assert held.mean[0] == pytest.approx(held.scores.mean())
    assert held.std[0] == pytest.approx(held.scores.std())


def test_a_uniform_picture_holds_everywhere_and_a_half_picture_does_not():
    from xmaco import Objective
    from xmaco.evaluate import hold

    model = mean_colour_model()
    uniform = np.zeros((40, 40, 3), "float32")
    uniform[..., 2] = 0.75
    half = np.zeros((40, 40, 3), "float32")
    half[:, :20, 2] = 1.5  # the same total, on the left half only
    held = hold(Objective.channel(model, "colour", 2), np.stack([uniform, half]), crops=32)
    np.testing.assert_allclose(held.scores[0], 0.75, atol=1e-5)
    assert held.std[0] < 1e-5
    assert held.std[1] > 0.3  # crops on the left read 1.5, on the right 0
    assert held.scores[1].min() < 0.1 and held.scores[1].max() > 1.4


def test_hold_is_seeded_and_reads_every_picture_on_the_same_crops():
    from xmaco import Objective
    from xmaco.evaluate import hold

    model = mean_colour_model()
    picture = np.random.default_rng(1).random((48, 48, 3)).astype("float32")
    objective = Objective.channel(model, "colour", [0, 0])
    first = hold(objective, np.stack([picture, picture]), crops=8, seed=3)
    np.testing.assert_allclose(first.scores[0], first.scores[1], rtol=1e-6)
    again = hold(
        objective,
        Result(
            np.stack([picture, picture]),
            np.zeros((2, 48, 48, 3)),
            np.zeros((1, 2)),
            ["a", "b"],
            {},
            0,
        ),
        crops=8,
        seed=3,
    )
    np.testing.assert_array_equal(first.scores, again.scores)
    other = hold(objective, np.stack([picture, picture]), crops=8, seed=4)
    assert not np.allclose(first.scores, other.scores)
    assert first.names == ["colour:channel 0"] * 2 and first.seed == 3
    assert "colour:channel 0: " in str(first) and "(8 crops)" in str(first)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"crops": 0}, "Expected crops to be a positive integer. Received: crops=0"),
        ({"crop_sides": (0.6, 0.2)}, "Expected crop_sides"),
        ({"seed": 1.5}, "Expected seed to be an integer"),
        ({"pictures": np.zeros((3, 20, 20, 3))}, "one picture per visualization .* 3 pictures"),
        (
            {"pictures": np.zeros((2, 20, 20, 1))},
            r"Expected pictures to be an array \(N, H, W, 3\)",
        ),
        ({"pictures": np.full((2, 20, 20, 3), np.nan)}, "Expected pictures to be finite"),
    ],
)
def test_hold_names_bad_arguments(kwargs, match):
    from xmaco import Objective
    from xmaco.evaluate import hold

    objective = Objective.channel(mean_colour_model(), "colour", [0, 1])
    arguments = {"pictures": np.zeros((2, 20, 20, 3), "float32"), **kwargs}
    with pytest.raises(ValueError, match=match):
        hold(objective, **arguments)


def test_hold_needs_an_objective_and_a_known_input_size():
    from xmaco import Objective
    from xmaco.evaluate import hold

    with pytest.raises(TypeError, match="Expected objective to be an xmaco.Objective"):
        hold("colour", np.zeros((1, 8, 8, 3)))
    free = mean_colour_model(size=(None, None))
    objective = Objective.channel(free, "colour", 0)
    with pytest.raises(ValueError, match="Expected model_input_size"):
        hold(objective, np.zeros((1, 8, 8, 3), "float32"))
    held = hold(objective, np.ones((1, 8, 8, 3), "float32"), crops=2, model_input_size=6)
    np.testing.assert_allclose(held.scores, 1.0, atol=1e-6)
