import re
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

import xmaco
from xmaco.transforms import MIN_CROP, Crops, Noise, crop, noise_field, sample_boxes


@settings(max_examples=40, deadline=None)
@given(
    size=st.floats(0.01, 1.0),
    height=st.integers(8, 600),
    width=st.integers(8, 600),
    seed=st.integers(0, 2**31 - 1),
    step=st.integers(0, 10_000),
)
def test_boxes_are_valid_square_and_follow_the_size(size, height, width, seed, step):
    boxes = sample_boxes(
        tf.constant([seed], tf.int64), tf.constant(step), 16, size, (height, width), size_jitter=0.0
    ).numpy()
    assert boxes.shape == (16, 4)
    assert (boxes >= -1e-6).all() and (boxes <= 1 + 1e-6).all()
    sides_px = (boxes[:, 2:] - boxes[:, :2]) * [height, width]
    np.testing.assert_allclose(sides_px[:, 0], sides_px[:, 1], rtol=1e-4, atol=1e-3)
    expected = np.clip(size, MIN_CROP, 1.0) * min(height, width)
    np.testing.assert_allclose(sides_px[:, 0], expected, rtol=1e-4, atol=1e-3)


def test_boxes_are_keyed_per_visualization_and_step():
    seeds = tf.constant([5, 9], tf.int64)
    both = sample_boxes(seeds, tf.constant(3), 4, 0.4, (64, 64)).numpy()
    alone = sample_boxes(tf.constant([9], tf.int64), tf.constant(3), 4, 0.4, (64, 64)).numpy()
    np.testing.assert_array_equal(both[4:], alone)
    later = sample_boxes(seeds, tf.constant(4), 4, 0.4, (64, 64)).numpy()
    assert not np.allclose(both, later)


def test_crop_matches_the_canvas_region_and_both_kernels_agree():
    canvas = tf.constant(np.random.default_rng(0).random((2, 40, 40, 3)), tf.float32)
    whole = crop(canvas, None, 1, (40, 40)).numpy()
    np.testing.assert_allclose(whole, canvas.numpy(), atol=1e-6)
    boxes = sample_boxes(tf.constant([1, 2], tf.int64), tf.constant(0), 3, 0.3, (40, 40))
    fast = crop(canvas, boxes, 3, (12, 12)).numpy()
    gathered = crop(canvas, boxes, 3, (12, 12), xla=True).numpy()
    np.testing.assert_allclose(fast, gathered, atol=1e-5)


def test_the_crop_gradient_is_exact_when_many_crops_share_a_canvas():
    # TensorFlow's own CPU gradient loses contributions here, differently from call to call
    rng = np.random.default_rng(0)
    canvas = tf.constant(rng.random((2, 256, 256, 3)), tf.float32)
    boxes = sample_boxes(tf.constant([3, 4], tf.int64), tf.constant(0), 24, 0.3, (256, 256))
    upstream = tf.constant(rng.standard_normal((48, 96, 96, 3)), tf.float32)
    expected = np.zeros((2, 256, 256, 3))
    for k in range(48):  # one box per kernel call, summed in float64
        expected[k // 24] += tf.raw_ops.CropAndResizeGradImage(
            grads=upstream[k : k + 1],
            boxes=boxes[k : k + 1],
            box_ind=[0],
            image_size=[1, 256, 256, 3],
            T=tf.float64,
        ).numpy()[0]

    @tf.function
    def gradient():
        with tf.GradientTape() as tape:
            tape.watch(canvas)
            loss = tf.reduce_sum(crop(canvas, boxes, 24, (96, 96)) * upstream)
        return tape.gradient(loss, canvas)

    for _ in range(10):
        error = np.abs(gradient().numpy() - expected).max()
        assert error < 1e-5 * np.abs(expected).max()


def test_noise_has_the_documented_distribution():
    noise = noise_field(tf.constant([0, 1], tf.int64), tf.constant(0), [8, 32, 32, 3]).numpy()
    assert noise.shape == (16, 32, 32, 3)
    # N(0, 1) + U(-1/2, 1/2): mean 0, variance 1 + 1/12
    assert abs(noise.mean()) < 0.02
    assert abs(noise.var() - (1 + 1 / 12)) < 0.03


def test_padded_boxes_may_reach_outside_and_read_zeros_there():
    seeds = tf.constant([0, 1, 2, 3], tf.int64)
    inside = sample_boxes(seeds, tf.constant(0), 64, 0.5, (64, 64)).numpy()
    padded = sample_boxes(seeds, tf.constant(0), 64, 0.5, (64, 64), padding=True).numpy()
    assert inside.min() >= 0.0 and inside.max() <= 1.0
    assert padded.min() < 0.0 and padded.max() > 1.0
    centres = (padded[:, :2] + padded[:, 2:]) / 2
    assert centres.min() >= 0.0 and centres.max() <= 1.0
    # a box over the top-left corner: the quarter outside the canvas reads zero, both kernels
    canvas = tf.ones([1, 40, 40, 3])
    box = tf.constant([[-0.5, -0.5, 0.5, 0.5]])
    for xla in (False, True):
        cropped = crop(canvas, box, 1, (21, 21), xla=xla).numpy()[0, :, :, 0]
        np.testing.assert_allclose(cropped[:10, :], 0.0, atol=1e-6)
        np.testing.assert_allclose(cropped[:, :10], 0.0, atol=1e-6)
        np.testing.assert_allclose(cropped[11:, 11:], 1.0, atol=1e-6)


def test_a_wider_spread_shows_the_canvas_borders_as_often_as_its_centre():
    def coverage(spread: float) -> np.ndarray:
        boxes = sample_boxes(
            tf.range(8, dtype=tf.int64), tf.constant(0), 256, 0.3, (64, 64), center_std=spread
        ).numpy()
        xs = np.linspace(0.0, 1.0, 21)
        seen = (boxes[:, None, 1] <= xs) & (xs <= boxes[:, None, 3])
        return seen.mean(axis=0)

    narrow, wide = coverage(0.15), coverage(0.35)
    # the border tenth of the side against the middle tenth
    assert narrow[:2].mean() < 0.1 * narrow[10] and wide[:2].mean() > 0.3 * wide[10]
    assert Crops(4, 0.5).spread == 0.15 and Crops(4, 0.5, spread=0.35).describe()["spread"] == 0.35
    with pytest.raises(ValueError, match=r"crop_spread to be a number in \(0, 1\]\. Received: "):
        Crops(4, 0.5, spread=1.5)


# ------------------------------------------------------------------ transforms as objects
def _worked_example() -> dict:
    page = (Path(__file__).parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = page.split("## Your own transform", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert blocks, "no python block in the section 'Your own transform'"
    namespace: dict = {}
    exec(compile("\n".join(blocks), "docs/architecture.md", "exec"), namespace)  # noqa: S102
    return namespace


def test_the_worked_user_transform_of_the_architecture_page_runs_and_is_recorded():
    namespace = _worked_example()
    result = namespace["result"]
    assert result.images.shape == (2, 64, 64, 3) and np.isfinite(result.images).all()
    described = result.config["transforms"]
    assert "Jitter" in described[0] and described[1]["transform"] == "crops"
    # the user's transform changes the pictures, and the seed repeats them
    objective = xmaco.Objective.channel(namespace["model"], "conv", [0, 1])
    run = dict(steps=8, image_size=64, seed=0)
    plain = xmaco.maco(objective, transforms=[Crops(8), Noise(0.05)], **run)
    again = xmaco.maco(objective, transforms=[namespace["Jitter"](4), Crops(8), Noise(0.05)], **run)
    assert not np.allclose(plain.images, result.images)
    np.testing.assert_array_equal(again.images, result.images)


def test_the_default_transforms_are_the_crops_and_noise_keywords(cnn):
    objective = xmaco.Objective.neuron(cnn, "logits", [0, 1])
    run = dict(steps=3, image_size=40, seed=2)
    keywords = xmaco.maco(objective, crops=4, crop_size=0.4, noise=0.1, **run)
    objects = xmaco.maco(objective, transforms=[Crops(4, 0.4), Noise(0.1)], **run)
    np.testing.assert_array_equal(keywords.images, objects.images)
    assert keywords.config["transforms"] == objects.config["transforms"]
    # a Crops without a size takes the preset's schedule over the run's steps
    fast = xmaco.maco(objective, preset="fast", transforms=[Crops(2)], **run)
    assert fast.config["crop_size"] == {"schedule": "linear", "start": 0.5, "end": 0.2, "steps": 3}
    assert fast.config["noise"] is None  # no Noise given, none added
    # crop_spread moves the crops, so the pictures; the preset's is recorded when none is given
    spread = xmaco.maco(objective, crops=4, crop_size=0.4, noise=0.1, crop_spread=0.35, **run)
    assert not np.allclose(spread.images, keywords.images)
    assert (spread.config["crop_spread"], keywords.config["crop_spread"]) == (0.35, 0.15)


def test_a_visualization_sees_the_same_views_alone_or_in_a_batch(cnn):
    namespace = _worked_example()
    transforms = [namespace["Jitter"](3), Crops(3), Noise(0.05)]
    both = xmaco.maco(
        xmaco.Objective.neuron(cnn, "logits", [0, 1]),
        transforms=transforms,
        steps=2,
        image_size=40,
        seed=5,
    )
    second = xmaco.maco(
        xmaco.Objective.neuron(cnn, "logits", 1),
        transforms=transforms,
        steps=2,
        image_size=40,
        seed=6,
    )
    np.testing.assert_allclose(both.images[1], second.images[0], atol=1e-5)


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        (lambda: dict(transforms=[Crops(2)], crops=4), "transforms and crops"),
        (
            lambda: dict(transforms=[Noise(0.1)], noise=0.2, crop_size=0.3),
            "transforms and crop_size, noise",
        ),
        (lambda: dict(transforms=Crops(2)), "Expected transforms to be a list of transforms"),
        (lambda: dict(transforms=[Crops(2), "noise"]), r"transforms\[1\]='noise'"),
        (lambda: dict(transforms=[Crops(2), Crops(2)]), "Expected Crops to receive one view per"),
        (lambda: dict(transforms=[Crops(0)]), "Expected crops to be a positive integer"),
        (lambda: dict(transforms=[Noise(-1.0)]), r"Expected noise to be in \[0.0, inf\]"),
    ],
)
def test_bad_transforms_are_refused_with_what_was_expected(cnn, keywords, message):
    objective = xmaco.Objective.neuron(cnn, "logits", 0)
    with pytest.raises((TypeError, ValueError), match=message):
        xmaco.maco(objective, steps=1, image_size=32, seed=0, **keywords())
