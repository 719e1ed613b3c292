"""Objective.custom (a user's function of the activations) and the per-kind scoring functions."""

import re
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import xmaco
from xmaco import Objective

DOCS = Path(__file__).resolve().parents[1] / "docs"
RUN = dict(steps=2, crops=1, image_size=32, seed=0, verbose=False)


def top_k_mean(activations):
    """The mean of the 4 strongest activations of channel 5 of a (B, H, W, C) layer."""
    channel = tf.reshape(activations[..., 5], [tf.shape(activations)[0], -1])
    return tf.reduce_mean(tf.math.top_k(channel, k=4).values, axis=1)


def _images(count=3, seed=0):
    return tf.constant(np.random.default_rng(seed).random((count, 32, 32, 3)), tf.float32)


def _scores(objective, images, visualization=None):
    if visualization is None:
        visualization = tf.zeros([images.shape[0]], tf.int32)
    return objective.compile().scores(images, visualization).numpy()


def _features(model, layer, images):
    return keras.Model(model.inputs[0], model.get_layer(layer).output)(images)


def test_the_score_is_the_function_of_the_layer_activations(cnn):
    images = _images()
    expected = top_k_mean(_features(cnn, "conv2", images)).numpy()
    np.testing.assert_allclose(
        _scores(Objective.custom(cnn, "conv2", top_k_mean), images), expected
    )


def test_a_function_written_like_a_factory_scores_like_it(cnn):
    images = _images()

    def channel_mean(activations):
        return tf.reduce_mean(activations[..., 3], axis=[1, 2])

    custom = _scores(Objective.custom(cnn, "conv2", channel_mean), images)
    np.testing.assert_allclose(custom, _scores(Objective.channel(cnn, "conv2", 3), images))


def test_a_custom_objective_rises_during_a_run(cnn):
    result = xmaco.maco(
        Objective.custom(cnn, "conv2", top_k_mean), steps=24, crops=2, image_size=32, seed=0
    )
    start, end = result.history[:3, 0].mean(), result.history[-3:, 0].mean()
    assert end > start + 0.1 * abs(start), (start, end)
    assert result.names == ["conv2:top_k_mean"]


def test_it_composes_with_exact_weights_and_gradients(cnn):
    images = _images()
    custom = Objective.custom(cnn, "conv2", top_k_mean, name="top4")
    logit = Objective.neuron(cnn, "logits", 2)
    combined = logit - 2 * custom + custom / 4

    def gradient(objective):
        with tf.GradientTape() as tape:
            tape.watch(images)
            total = tf.reduce_sum(objective.compile().scores(images, tf.zeros([3], tf.int32)))
        return tape.gradient(total, images).numpy()

    assert [t.weight for t in combined.terms] == [1.0, -2.0, 0.25]
    assert combined.names == ["logits[2] - 2*top4 + 0.25*top4"]
    expected = gradient(logit) - 1.75 * gradient(custom)
    np.testing.assert_allclose(gradient(combined), expected, rtol=1e-4, atol=1e-6)
    assert np.abs(gradient(custom)).sum() > 0


def test_it_broadcasts_over_a_batch_and_concatenates(cnn):
    images = _images(4)
    custom = Objective.custom(cnn, "conv2", top_k_mean)
    batch = Objective.neuron(cnn, "logits", [0, 1]) + custom
    assert batch.visualizations == 2
    side_by_side = Objective.concatenate([custom, Objective.channel(cnn, "conv1", [1, 2])])
    assert side_by_side.names == ["conv2:top_k_mean", "conv1:channel 1", "conv1:channel 2"]
    visualization = tf.constant([0, 1, 2, 0])
    scores = _scores(side_by_side, images, visualization)
    own = top_k_mean(_features(cnn, "conv2", images)).numpy()
    channels = _scores(Objective.channel(cnn, "conv1", [1, 2]), images, tf.constant([0, 0, 1, 0]))
    np.testing.assert_allclose(scores, [own[0], channels[1], channels[2], own[3]], rtol=1e-6)


@pytest.mark.parametrize("method", [xmaco.maco, xmaco.fourier, xmaco.pixel])
def test_every_parameterization_runs_it(cnn, method):
    result = method(Objective.custom(cnn, "conv2", top_k_mean), **RUN)
    assert np.all(np.isfinite(result.images)) and result.names == ["conv2:top_k_mean"]


@pytest.mark.parametrize(
    "keywords",
    [dict(jit_compile=True, batch_size=1), dict(mixed_precision=True)],
    ids=["xla-micro-batches", "mixed-precision"],
)
def test_it_runs_compiled_with_xla_micro_batches_and_mixed_precision(cnn, keywords):
    custom = Objective.custom(cnn, "conv2", top_k_mean)
    objective = Objective.concatenate([custom, custom + Objective.neuron(cnn, "logits", 1)])
    result = xmaco.maco(objective, **{**RUN, "crops": 2, **keywords})
    assert np.all(np.isfinite(result.images)) and np.all(np.isfinite(result.history))


def test_layers_are_named_as_in_the_factories():
    keras.utils.set_random_seed(0)
    staged = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Conv2D(4, 3, name="conv1_1"),
            keras.layers.Conv2D(6, 3, name="conv1_2"),
        ]
    )
    mean = lambda a: tf.reduce_mean(a, axis=[1, 2, 3])  # noqa: E731
    assert Objective.custom(staged, "conv1", mean).names == ["conv1_2:custom"]
    assert Objective.custom(staged, -1, mean, name="energy").layers == ["conv1_2"]
    with pytest.raises(ValueError, match=r"Close matches: 'conv1_2'"):
        Objective.custom(staged, "conv1_22", mean)


@pytest.mark.parametrize(
    "function, error, fragments",
    [
        ("top_k_mean", TypeError, ["Expected function to be a callable", "of type str"]),
        (lambda a: tf.reduce_mean(a), ValueError, ["shape (2,)", "Received: shape ()"]),
        (lambda a: tf.reduce_mean(a, [1, 2]), ValueError, ["(2,)", "Received: shape (2, 16)"]),
        (lambda a: tf.reduce_mean(a, [0, 1, 2]), ValueError, ["Received: shape (16,)"]),
        (lambda a: tf.zeros([2], tf.int32), TypeError, ["gradients need floats", "int32"]),
        (lambda a: None, TypeError, ["Expected function to return", "None of type NoneType"]),
    ],
    ids=["not-callable", "scalar", "not-reduced", "over-the-batch", "integers", "none"],
)
def test_a_bad_function_fails_when_the_objective_is_built(cnn, function, error, fragments):
    with pytest.raises(error) as raised:
        Objective.custom(cnn, "conv2", function)
    for fragment in fragments:
        assert fragment in str(raised.value)


def test_a_bad_name_is_refused(cnn):
    with pytest.raises(ValueError, match="Expected name to be None or a non-empty string"):
        Objective.custom(cnn, "conv2", top_k_mean, name="")


def test_a_layer_of_unknown_size_is_checked_when_the_objective_is_built():
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(4, 3, name="conv")(inputs))
    expected = r"shape \(2, None, None, 4\) .*Received: shape \(2, 4\)"
    with pytest.raises(ValueError, match=expected):
        Objective.custom(model, "conv", lambda a: tf.reduce_mean(a, [1, 2]))
    fine = Objective.custom(model, "conv", lambda a: tf.reduce_mean(a, [1, 2, 3]))
    result = xmaco.maco(fine, model_input_size=(32, 32), **RUN)
    assert np.all(np.isfinite(result.images))


# ------------------------------------------------------------ the built-in kinds, pinned
def _previous_scores(kind, acts, data, rows, cossim_pow=0.0):
    """The scoring of the built-in kinds as it was written before each kind carried its own
    (an if/elif on the kind): the same operations, so the scores must be bit-identical."""
    batch = tf.shape(acts)[0]
    if kind == "layer":
        return tf.reduce_mean(tf.reshape(tf.square(acts), [batch, -1]), axis=1)
    if kind == "channel":
        index = tf.gather(tf.constant(data, tf.int32), rows)
        picked = tf.gather(acts, index, axis=-1, batch_dims=1)
        return tf.reduce_mean(tf.reshape(picked, [batch, -1]), axis=1)
    if kind == "neuron":
        index = tf.gather(tf.constant(data, tf.int32), rows)
        return tf.gather(tf.reshape(acts, [batch, -1]), index, axis=1, batch_dims=1)
    vectors = tf.gather(tf.constant(data, tf.float32), rows)
    flat = tf.reshape(acts, [batch, -1, acts.shape[-1]])
    dot = tf.einsum("bpc,bc->bp", flat, vectors)
    if cossim_pow:
        norms = tf.norm(flat, axis=-1) * tf.norm(vectors, axis=-1)[:, None]
        dot = dot * tf.maximum(dot / (norms + 1e-8), 0.1) ** cossim_pow
    return tf.reduce_mean(dot, axis=1)


def test_the_built_in_kinds_score_bit_identically_to_their_previous_formulas(cnn):
    images = _images(4)
    acts = tf.cast(_features(cnn, "conv2", images), tf.float32)
    rows = tf.constant([0, 1, 1, 0])
    vectors = np.random.default_rng(1).normal(size=(2, 16)).astype("float32")
    cases = [
        (Objective.layer(cnn, "conv2"), "layer", None, 0.0),
        (Objective.channel(cnn, "conv2", [3, 5]), "channel", np.array([3, 5]), 0.0),
        (Objective.neuron(cnn, "conv2", [(1, 2, 3), (4, 5, 6)]), "neuron", None, 0.0),
        (Objective.direction(cnn, "conv2", vectors), "direction", vectors, 2.0),
        (Objective.direction(cnn, "conv2", vectors, cossim_pow=0), "direction", vectors, 0.0),
    ]
    for objective, kind, data, power in cases:
        (term,) = objective.terms
        assert term.kind == kind
        data = term.data if data is None else data
        expected = _previous_scores(kind, acts, data, rows if term.size > 1 else 0 * rows, power)
        assert np.array_equal(term.score(acts, rows).numpy(), expected.numpy()), kind


# ------------------------------------------------------------ the worked example of the docs
def test_the_worked_example_of_the_objectives_page_runs():
    page = (DOCS / "objectives.md").read_text(encoding="utf-8")
    section = page.split("## Your own objective", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert blocks, "no python block in the section 'Your own objective'"
    namespace = {}
    exec(compile("\n".join(blocks), "docs/objectives.md", "exec"), namespace)  # noqa: S102
    assert namespace["result"].names == ["block:strongest_spots"]


def test_the_worked_objective_of_the_architecture_page_runs():
    page = (DOCS / "architecture.md").read_text(encoding="utf-8")
    section = page.split("## Your own objective", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert blocks, "no python block in the section 'Your own objective'"
    namespace = {}
    exec(compile("\n".join(blocks), "docs/architecture.md", "exec"), namespace)  # noqa: S102
    pictures = namespace["pictures"]
    assert pictures.names == ["features:centre_of_channel_2 - 0.5*features:channel 5"]
    assert pictures.images.shape == (1, 64, 64, 3) and np.isfinite(pictures.history).all()
