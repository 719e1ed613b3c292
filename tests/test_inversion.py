"""Feature inversion: the objective, the same-region comparison, the run, the figure."""

import os

import cv2
import keras
import matplotlib
import numpy as np
import pytest
import tensorflow as tf

import xmaco
from xmaco import Objective
from xmaco.inversion import figure, invert, similarity

GRACE_HOPPER = os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")


def _photo(width: int, height: int) -> np.ndarray:
    """matplotlib's Grace Hopper portrait, resized, in [-1, 1]."""
    pixels = cv2.imread(GRACE_HOPPER)[..., ::-1]
    pixels = cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA)
    return (pixels.astype(np.float32) - 127.0) / 128.0


@pytest.fixture(scope="module")
def photo():
    return _photo(48, 56)


@pytest.fixture(scope="module")
def edges():
    """A linear layer of zero-mean filters ('edges'; a random image and the photo start out
    uncorrelated there) and a ReLU layer above it ('conv2'); input in [-1, 1]."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    layer = keras.layers.Conv2D(8, 3, use_bias=False, name="edges")
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu", name="conv2")(layer(inputs))
    model = keras.Model(inputs, x, name="edges_model")
    kernel = layer.kernel.numpy()
    layer.kernel.assign(kernel - kernel.mean(axis=(0, 1), keepdims=True))
    model.xmaco_values_range = (-1.0, 1.0)
    return model


def _whole(images):
    """Whole images resized to the model input as the engine resizes a whole canvas."""
    boxes = [[0.0, 0.0, 1.0, 1.0]] * len(images)
    return tf.image.crop_and_resize(images, boxes, list(range(len(images))), (32, 32))


def _activations(model, layer, images):
    features = keras.Model(model.inputs[0], model.get_layer(layer).output)
    return np.asarray(features(images), np.float64).reshape(len(images), -1)


def test_scores_compare_each_crop_with_the_same_region_of_the_reference(edges, photo):
    boxes = tf.constant([[0.0, 0.0, 1.0, 1.0], [0.1, 0.2, 0.6, 0.7], [0.5, 0.4, 0.9, 0.8]])
    owners = tf.zeros([3], tf.int32)
    same = tf.image.crop_and_resize(photo[None], boxes, owners, (32, 32))
    other = tf.image.crop_and_resize(photo[None, ::-1], boxes, owners, (32, 32))
    compiled = Objective.inversion(edges, "conv2", photo, cossim_pow=2.0).compile()
    for images in (same, other):
        a = _activations(edges, "conv2", images)
        r = _activations(edges, "conv2", same)
        dot = (a * r).mean(axis=1)
        cosine = (a * r).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(r, axis=1))
        expected = dot * np.maximum(cosine, 0.1) ** 2
        got = compiled.scores(images, owners, boxes).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-4)
    # the crops of the reference itself reach the cosine 1: score = mean(r * r)
    np.testing.assert_allclose(
        compiled.scores(same, owners, boxes).numpy(), (r * r).mean(axis=1), rtol=1e-4
    )


def test_the_whole_canvas_is_compared_with_the_whole_reference_without_boxes(edges, photo):
    compiled = Objective.inversion(edges, "edges", photo, cossim_pow=0).compile()
    resized = _whole(photo[None])
    r = _activations(edges, "edges", resized)
    got = compiled.scores(resized, tf.zeros([1], tf.int32)).numpy()
    np.testing.assert_allclose(got, (r * r).mean(axis=1), rtol=1e-4)


def test_gradients_reach_the_images_only_through_their_own_activations(edges, photo):
    compiled = Objective.inversion(edges, "conv2", photo).compile()
    images = tf.Variable(tf.random.uniform([2, 32, 32, 3], -1, 1, seed=0))
    boxes = tf.constant([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]])
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(compiled.scores(images, tf.zeros([2], tf.int32), boxes))
    gradient = tape.gradient(total, images)
    assert gradient is not None and np.all(np.isfinite(gradient.numpy()))
    assert np.abs(gradient.numpy()).sum() > 0


def test_a_batch_of_photos_makes_a_batch_each_with_its_own_photo(edges, photo):
    photos = np.stack([photo, photo[:, ::-1]])
    objective = Objective.inversion(edges, "conv2", photos)
    assert objective.visualizations == 2
    assert objective.names == ["conv2:inversion 0", "conv2:inversion 1"]
    whole = _whole(photos)
    scores = objective.compile().scores(whole, tf.constant([0, 1])).numpy()
    swapped = objective.compile().scores(whole, tf.constant([1, 0])).numpy()
    assert np.all(scores > swapped)


def test_inversion_composes_with_other_objectives(edges, photo):
    inversion = Objective.inversion(edges, "conv2", photo)
    channel = Objective.channel(edges, "conv2", 3)
    combined = inversion - 0.5 * channel
    assert combined.names == ["conv2:inversion - 0.5*conv2:channel 3"]
    images = tf.random.uniform([2, 32, 32, 3], -1, 1, seed=1)
    owners = tf.zeros([2], tf.int32)
    expected = (
        inversion.compile().scores(images, owners).numpy()
        - 0.5 * channel.compile().scores(images, owners).numpy()
    )
    np.testing.assert_allclose(
        combined.compile().scores(images, owners).numpy(), expected, rtol=1e-4, atol=1e-6
    )


def test_concatenated_objectives_score_each_visualization_with_its_own_terms(edges, photo):
    parts = [Objective.channel(edges, "conv2", [1, 2]), Objective.inversion(edges, "edges", photo)]
    joined = Objective.concatenate(parts) + 0.25 * Objective.layer(edges, "conv2")
    assert joined.visualizations == 3
    assert joined.names == [
        "conv2:channel 1 + 0.25*conv2:layer",
        "conv2:channel 2 + 0.25*conv2:layer",
        "edges:inversion + 0.25*conv2:layer",
    ]
    images = tf.random.uniform([3, 32, 32, 3], -1, 1, seed=2)
    got = joined.compile().scores(images, tf.constant([0, 1, 2])).numpy()
    energy = Objective.layer(edges, "conv2").compile().scores(images, tf.zeros([3], tf.int32))
    channels = parts[0].compile().scores(images[:2], tf.constant([0, 1])).numpy()
    inverted = parts[1].compile().scores(images[2:], tf.zeros([1], tf.int32)).numpy()
    expected = np.concatenate([channels, inverted]) + 0.25 * energy.numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    assert Objective.concatenate([parts[1]]) is parts[1]


def test_similarity_rises_far_above_its_start_at_several_depths_in_one_run(edges, photo):
    result = invert(edges, layers=["edges", "conv2"], image=photo, steps=32, crops=4, seed=0)
    assert result.images.shape == (2, 56, 48, 3)  # the canvas takes the photo's size
    assert result.names == ["edges:inversion", "conv2:inversion"]
    assert result.config["inverted_layers"] == ["edges", "conv2"]
    start, end = result.config["cosine_similarity_start"], result.config["cosine_similarity"]
    assert abs(start[0]) < 0.2 and end[0] > 0.6, (start, end)
    assert end[1] > start[1] + 0.2, (start, end)
    np.testing.assert_allclose(
        similarity(edges, "edges", result.images[:1], photo), end[:1], atol=1e-5
    )
    fig = figure(result, photo)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["reference", f"edges\ncos {end[0]:.2f}", f"conv2\ncos {end[1]:.2f}"]


def test_similarity_is_the_cosine_of_the_flattened_activations(edges, photo):
    other = _photo(40, 40)
    a = _activations(edges, "conv2", _whole(other[None]))
    r = _activations(edges, "conv2", _whole(photo[None]))
    expected = (a * r).sum() / (np.linalg.norm(a) * np.linalg.norm(r))
    assert similarity(edges, "conv2", other, photo)[0] == pytest.approx(expected, rel=1e-3)
    assert similarity(edges, "conv2", photo, photo)[0] == pytest.approx(1.0, abs=1e-6)


def test_several_photos_at_several_depths_with_micro_batches_and_xla(edges, photo):
    photos = np.stack([photo, photo[::-1]])
    settings = dict(layers=["edges", "conv2"], image=photos, steps=2, crops=3, seed=5)
    plain = invert(edges, **settings)
    assert plain.config["inverted_layers"] == ["edges", "edges", "conv2", "conv2"]
    assert len(figure(plain, photos).axes) == 6
    with pytest.raises(ValueError, match="3 photo"):
        figure(plain, np.stack([photo] * 3))
    micro = invert(edges, batch_size=5, **settings)
    np.testing.assert_allclose(micro.images, plain.images, atol=1e-4)
    objective = Objective.inversion(edges, "conv2", photos)
    # the reference crops compile with XLA (crop_and_resize has no XLA kernel)
    compiled = objective.compile()
    images = tf.random.uniform([4, 32, 32, 3], -1, 1, seed=3)
    owners = tf.constant([0, 0, 1, 1])
    boxes = tf.constant([[0.1, 0.1, 0.5, 0.6], [0.0, 0.3, 1.0, 0.9]] * 2)
    jit = tf.function(compiled.scores, jit_compile=True)(images, owners, boxes)
    np.testing.assert_allclose(jit.numpy(), compiled.scores(images, owners, boxes), rtol=1e-4)


def test_the_embedded_model_inverts_a_real_photo():
    """A tiny run on EfficientNet-Lite0 (the measured figures are in docs/inversion.md)."""
    from xmaco import zoo

    model = zoo.efficientnet_lite0()
    reference = _photo(112, 128)
    result = invert(model, "block2b_out", reference, steps=4, crops=2, seed=0)
    start, end = result.config["cosine_similarity_start"][0], result.config["cosine_similarity"][0]
    assert end > start + 0.1, (start, end)


@pytest.mark.parametrize(
    "call, error, fragment",
    [
        (lambda m, p: invert(m, image=p), ValueError, "exactly one of layer"),
        (lambda m, p: invert(m, "edges", p, layers=["conv2"]), ValueError, "exactly one"),
        (lambda m, p: invert(m, "edges"), ValueError, "image=None"),
        (lambda m, p: invert(m, layers=[], image=p), ValueError, "layers=[]"),
        (lambda m, p: invert(m, layers="edges", image=p), ValueError, "layers='edges'"),
        (lambda m, p: invert(m, "edgs", p), ValueError, "'edges'"),
        (lambda m, p: Objective.inversion(m, "edges", p[..., :2]), ValueError, "(56, 48, 2)"),
        (lambda m, p: Objective.inversion(m, "edges", p * np.nan), ValueError, "NaN"),
        (lambda m, p: Objective.inversion(m, "edges", "photo.jpg"), TypeError, "str"),
        (lambda m, p: Objective.inversion(m, "edges", p, -1), ValueError, "cossim_pow=-1"),
        (lambda m, p: Objective.concatenate([]), TypeError, "non-empty list"),
        (lambda m, p: figure("result", p), TypeError, "xmaco.invert"),
        (
            lambda m, p: similarity(m, "edges", np.stack([p] * 3), np.stack([p] * 2)),
            ValueError,
            "2 references",
        ),
    ],
)
def test_bad_inputs_name_the_argument(edges, photo, call, error, fragment):
    with pytest.raises(error) as info:
        call(edges, photo)
    assert fragment in str(info.value)


def test_concatenating_objectives_of_different_models_is_refused(edges, photo):
    other = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(2, 3, name="c")])
    with pytest.raises(ValueError, match="same model"):
        Objective.concatenate([Objective.layer(edges, "edges"), Objective.layer(other, "c")])


def test_a_preset_inversion_spreads_its_crop_schedule_over_the_preset_steps(cnn):
    from xmaco.inversion import CROP_SIZE

    photo = np.random.default_rng(0).random((32, 32, 3)).astype(np.float32)
    result = invert(cnn, "conv2", photo, preset="fast", crops=1, seed=0, callbacks=[_Stop()])
    schedule = result.config["crop_size"]
    assert result.config["steps"] == xmaco.presets.get("fast").steps == schedule["steps"]
    assert (schedule["start"], schedule["end"]) == tuple(CROP_SIZE)


class _Stop(xmaco.callbacks.Callback):
    """Ends a run after its first step: the schedule is set before the first step."""

    def on_step_end(self, step, logs):
        self.stop_run = True
