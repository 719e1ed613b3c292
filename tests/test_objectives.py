import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from xmaco import Objective


def _gradient(objective, images):
    compiled = objective.compile()
    images = tf.constant(images)
    visualization = tf.zeros([images.shape[0]], tf.int32)
    with tf.GradientTape() as tape:
        tape.watch(images)
        total = tf.reduce_sum(compiled.scores(images, visualization))
    return tape.gradient(total, images).numpy(), total.numpy()


def test_weighted_sum_gradient_equals_sum_of_weighted_gradients(cnn):
    images = np.random.default_rng(0).random((3, 32, 32, 3)).astype("float32")
    a = Objective.neuron(cnn, "logits", 1)
    b = Objective.channel(cnn, "conv2", 5)
    c = Objective.layer(cnn, "conv1")
    combined, value = _gradient(1 * a + 3 * b - 5 * c, images)
    parts = [_gradient(o, images) for o in (a, b, c)]
    expected = parts[0][0] + 3 * parts[1][0] - 5 * parts[2][0]
    np.testing.assert_allclose(combined, expected, rtol=1e-4, atol=1e-6)
    assert value == pytest.approx(parts[0][1] + 3 * parts[1][1] - 5 * parts[2][1], rel=1e-5)
    assert [t.weight for t in (1 * a + 3 * b - 5 * c).terms] == [1.0, 3.0, -5.0]


def test_operators_return_new_objects_and_never_mutate(cnn):
    a = Objective.neuron(cnn, "logits", 0)
    b = 3 * a
    c = b - a / 2
    assert [t.weight for t in a.terms] == [1.0]
    assert [t.weight for t in b.terms] == [3.0]
    assert [t.weight for t in c.terms] == [3.0, -0.5]
    assert [t.weight for t in (-c).terms] == [-3.0, 0.5]
    with pytest.raises(AttributeError):
        a.foo = 1
    assert sum([a, b]).names == ["logits[0] + 3*logits[0]"]


def test_scores_match_the_definitions(cnn):
    images = np.random.default_rng(1).random((2, 32, 32, 3)).astype("float32")
    features = keras.Model(cnn.inputs[0], [cnn.get_layer(n).output for n in ("conv2", "logits")])
    conv2, logits = (np.asarray(x) for x in features(images))
    index = tf.zeros([2], tf.int32)

    def scores(objective):
        return objective.compile().scores(tf.constant(images), index).numpy()

    np.testing.assert_allclose(
        scores(Objective.layer(cnn, "conv2")), (conv2**2).mean(axis=(1, 2, 3)), rtol=1e-5
    )
    np.testing.assert_allclose(
        scores(Objective.channel(cnn, "conv2", 7)), conv2[..., 7].mean(axis=(1, 2)), rtol=1e-5
    )
    np.testing.assert_allclose(scores(Objective.neuron(cnn, "logits", 3)), logits[:, 3], rtol=1e-5)
    np.testing.assert_allclose(
        scores(Objective.neuron(cnn, "conv2", (2, 4, 9))), conv2[:, 2, 4, 9], rtol=1e-5
    )
    v = np.random.default_rng(2).normal(size=16).astype("float32")
    dot = conv2 @ v
    np.testing.assert_allclose(
        scores(Objective.direction(cnn, "conv2", v, cossim_pow=0)),
        dot.mean(axis=(1, 2)),
        rtol=1e-4,
        atol=1e-6,
    )
    cos = dot / (np.linalg.norm(conv2, axis=-1) * np.linalg.norm(v) + 1e-8)
    np.testing.assert_allclose(
        scores(Objective.direction(cnn, "conv2", v, cossim_pow=2)),
        (dot * np.maximum(cos, 0.1) ** 2).mean(axis=(1, 2)),
        rtol=1e-4,
        atol=1e-6,
    )


def test_batches_score_each_visualization_with_its_own_target(cnn):
    images = np.random.default_rng(3).random((4, 32, 32, 3)).astype("float32")
    logits = np.asarray(cnn(images))
    objective = Objective.neuron(cnn, "logits", [0, 4]) + 2 * Objective.neuron(cnn, "logits", 1)
    assert objective.visualizations == 2
    assert objective.names == ["logits[0] + 2*logits[1]", "logits[4] + 2*logits[1]"]
    owner = tf.constant([0, 0, 1, 1])
    got = objective.compile().scores(tf.constant(images), owner).numpy()
    expected = logits[[0, 1, 2, 3], [0, 0, 4, 4]] + 2 * logits[:, 1]
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_one_forward_pass_for_all_layers(cnn):
    objective = (
        Objective.layer(cnn, "conv1")
        + Objective.channel(cnn, "conv2", 1)
        + Objective.neuron(cnn, "logits", 2)
        - Objective.layer(cnn, "conv1")
    )
    compiled = objective.compile()
    assert compiled.layers == ["conv1", "conv2", "logits"]
    assert len(compiled.feature_model.outputs) == 3


def test_incompatible_batch_sizes_are_refused(cnn):
    with pytest.raises(ValueError, match="batch sizes 2 and 3"):
        Objective.neuron(cnn, "logits", [0, 1]) + Objective.channel(cnn, "conv1", [0, 1, 2])


def test_layer_by_index_and_sequential_models(sequential):
    assert Objective.layer(sequential, -1).layers == ["logits"]
    assert Objective.neuron(sequential, "logits", [0, 3]).names == ["logits[0]", "logits[3]"]


def test_grayscale_models_are_accepted(gray_cnn):
    assert Objective.channel(gray_cnn, "conv1", 0).visualizations == 1


@pytest.mark.parametrize(
    "build, error, fragments",
    [
        (lambda m: Objective.layer(m, "conv_2"), ValueError, ["layer='conv_2'", "'conv2'"]),
        (lambda m: Objective.layer(m, 99), ValueError, ["layer=99", "index in"]),
        (lambda m: Objective.layer(m, 1.5), TypeError, ["layer=1.5"]),
        (lambda m: Objective.channel(m, "conv2", 16), ValueError, ["[0, 15]", "channel=16"]),
        (lambda m: Objective.channel(m, "conv2", []), ValueError, ["channel=[]"]),
        (lambda m: Objective.neuron(m, "logits", 5), ValueError, ["[0, 4]", "index=5"]),
        (lambda m: Objective.neuron(m, "conv2", (0, 0, 99)), ValueError, ["index=(0, 0, 99)"]),
        (lambda m: Objective.neuron(m, "logits", "a"), TypeError, ["index='a'"]),
        (lambda m: Objective.direction(m, "conv2", np.ones(3)), ValueError, ["(16,)", "(3,)"]),
        (lambda m: Objective.direction(m, "conv2", np.zeros(16)), ValueError, ["zero norm"]),
        (lambda m: Objective.direction(m, "conv2", np.ones(16), -1), ValueError, ["cossim_pow=-1"]),
        (lambda m: Objective.layer("model", 0), TypeError, ["model of type str"]),
        (lambda m: Objective.layer(m, 0) * Objective.layer(m, 0), TypeError, ["products"]),
        (lambda m: Objective.layer(m, 0) + 1, TypeError, ["Received: 1"]),
        (lambda m: Objective.layer(m, 0) * float("nan"), TypeError, ["finite number"]),
    ],
)
def test_bad_inputs_name_the_argument(cnn, build, error, fragments):
    with pytest.raises(error) as info:
        build(cnn)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_non_image_models_are_refused():
    inputs = keras.Input((10,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="d")(inputs))
    with pytest.raises(ValueError, match=r"input shape \(None, 10\)"):
        Objective.neuron(model, "d", 0)


def test_subclassed_models_without_symbolic_inputs_get_a_clear_error():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    with pytest.raises(TypeError, match="no symbolic inputs"):
        Objective.layer(Net(), 0)


def test_objectives_on_different_models_do_not_mix(cnn, sequential):
    with pytest.raises(ValueError, match="same model"):
        Objective.layer(cnn, 0) + Objective.layer(sequential, 0)


# --- Class objectives on probabilities (a softmax) warn and name the logits. -----------------


def softmax_heads():
    inputs = keras.Input((8, 8, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    logits = keras.layers.Dense(4, name="logits")(pooled)
    separate = keras.Model(inputs, keras.layers.Activation("softmax", name="probs")(logits))
    fused = keras.Model(
        inputs, keras.layers.Dense(4, activation="softmax", name="predictions")(pooled)
    )
    layer = keras.Model(inputs, keras.layers.Softmax(name="softmax")(logits))
    return separate, fused, layer


def test_a_class_objective_on_a_softmax_warns_and_names_the_logits():
    separate, fused, layer = softmax_heads()
    with pytest.warns(
        UserWarning, match=r"layer 'probs'.*softmax.*use the layer before it, 'logits'"
    ):
        Objective.neuron(separate, "probs", 2)
    with pytest.warns(UserWarning, match=r"Objective.channel on layer 'softmax'.*'logits'"):
        Objective.channel(layer, "softmax", [0, 1])
    with pytest.warns(UserWarning, match=r"'predictions'.*classifier_activation=None"):
        Objective.neuron(fused, -1, 1)


def test_logits_and_ordinary_layers_do_not_warn():
    separate, fused, _ = softmax_heads()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Objective.neuron(separate, "logits", [0, 3])
        Objective.channel(fused, 0, 1)
        Objective.layer(separate, "probs")


# ---------------------------------------------------------------------------- stage aliases
@pytest.fixture(scope="module")
def staged():
    """A VGG-style model: conv1_1, conv1_2, pool1, conv2_1, conv2_2, a real 'conv3', 'dense_1'."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv1_1")(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv1_2")(x)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(6, 3, padding="same", name="conv2_1")(x)
    x = keras.layers.Conv2D(6, 3, padding="same", name="conv2_2")(x)
    x = keras.layers.Conv2D(5, 1, name="conv3")(x)
    x = keras.layers.Conv2D(5, 1, name="conv3_extra")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="dense_1")(x), name="staged")


@pytest.fixture(scope="module")
def residual():
    """ResNet-style names: each block ends in an add named conv{s}_block{b}_out."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv1_conv")(inputs)
    for block in (1, 2):
        y = keras.layers.Conv2D(4, 3, padding="same", name=f"conv2_block{block}_1_conv")(x)
        x = keras.layers.Add(name=f"conv2_block{block}_out")([x, y])
    x = keras.layers.BatchNormalization(name="post_bn")(x)
    return keras.Model(inputs, x, name="residual")


def test_a_stage_alias_is_the_stage_last_layer(staged, residual):
    assert Objective.layer(staged, "conv1").layers == ["conv1_2"]
    assert Objective.layer(staged, "conv2").names == ["conv2_2:layer"]
    assert Objective.layer(residual, "conv2").layers == ["conv2_block2_out"]
    assert Objective.layer(residual, "conv1").layers == ["conv1_conv"]


def test_every_factory_takes_a_stage_alias(staged):
    rng = np.random.default_rng(0)
    images = rng.random((2, 16, 16, 3)).astype("float32")
    pairs = [
        (Objective.channel(staged, "conv2", [1, 4]), Objective.channel(staged, "conv2_2", [1, 4])),
        (
            Objective.neuron(staged, "conv1", (3, 3, 2)),
            Objective.neuron(staged, "conv1_2", (3, 3, 2)),
        ),
        (
            Objective.direction(staged, "conv2", np.arange(6.0)),
            Objective.direction(staged, "conv2_2", np.arange(6.0)),
        ),
    ]
    for alias, named in pairs:
        assert alias.names == named.names
        np.testing.assert_allclose(_gradient(alias, images)[1], _gradient(named, images)[1])


def test_a_real_layer_keeps_its_name_over_an_alias(staged):
    # 'conv3' is a layer of its own, although 'conv3_extra' follows it.
    assert Objective.layer(staged, "conv3").layers == ["conv3"]


def test_names_without_a_stage_number_make_no_alias(staged):
    with pytest.raises(ValueError, match="Received: layer='dense'"):
        Objective.layer(staged, "dense")


def test_an_unknown_name_lists_the_aliases_among_close_matches(staged):
    with pytest.raises(ValueError) as caught:
        Objective.layer(staged, "conv4")
    message = str(caught.value)
    assert "Expected layer to be a layer name of model 'staged'. Received: layer='conv4'" in message
    assert "'conv2' (= 'conv2_2')" in message and "'conv1' (= 'conv1_2')" in message


@pytest.mark.parametrize("name", ["resnet50", "resnet50v2"])
def test_keras_resnets_stage_aliases(name):
    from xmaco import zoo

    model = zoo.load(name, weights=None)
    assert Objective.layer(model, "conv5").layers == ["conv5_block3_out"]
    assert Objective.channel(model, "conv4", 7).names == ["conv4_block6_out:channel 7"]
    assert model.get_layer("conv5_block3_out").output.shape[-1] == 2048


def test_batch_size_is_the_deprecated_name_of_visualizations(cnn):
    objective = Objective.neuron(cnn, "logits", [0, 1, 2])
    with pytest.warns(DeprecationWarning, match="use Objective.visualizations"):
        assert objective.batch_size == objective.visualizations == 3
    assert repr(objective).startswith("Objective(visualizations=3, ")
