"""Token layers: a small vision transformer, its objectives and its visualization end to end."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import xmaco
from xmaco import Objective

PATCH, DIM, TOKENS = 8, 32, 17  # 32 x 32 images: 16 patches and the class token


class ClassToken(keras.layers.Layer):
    """Prepends a learned class token to the patch tokens."""

    def build(self, input_shape):
        self.token = self.add_weight(
            shape=(1, 1, input_shape[-1]), initializer="random_normal", name="token"
        )

    def call(self, patches):
        batch = keras.ops.shape(patches)[0]
        token = keras.ops.broadcast_to(self.token, (batch, 1, patches.shape[-1]))
        return keras.ops.concatenate([token, patches], axis=1)


class PositionEmbedding(keras.layers.Layer):
    """Adds a learned embedding to every token position."""

    def build(self, input_shape):
        self.position = self.add_weight(
            shape=(1, input_shape[1], input_shape[2]), initializer="random_normal", name="position"
        )

    def call(self, tokens):
        return tokens + self.position


def _block(tokens, index: int):
    x = keras.layers.LayerNormalization(name=f"norm{index}a")(tokens)
    x = keras.layers.MultiHeadAttention(num_heads=2, key_dim=DIM // 2, name=f"attention{index}")(
        x, x
    )
    tokens = keras.layers.Add(name=f"residual{index}")([tokens, x])
    x = keras.layers.LayerNormalization(name=f"norm{index}b")(tokens)
    x = keras.layers.Dense(2 * DIM, activation="gelu", name=f"mlp{index}a")(x)
    x = keras.layers.Dense(DIM, name=f"mlp{index}b")(x)
    return keras.layers.Add(name=f"vit_block{index}")([tokens, x])


@pytest.fixture(scope="module")
def vit():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    # embeddings large enough that the image content, not the learned tokens, drives the blocks
    patches = keras.initializers.RandomNormal(stddev=0.05)
    x = keras.layers.Conv2D(
        DIM, PATCH, strides=PATCH, kernel_initializer=patches, name="patch_embedding"
    )(inputs)
    x = keras.layers.Reshape(((32 // PATCH) ** 2, DIM), name="patch_tokens")(x)
    x = PositionEmbedding(name="position")(ClassToken(name="class_token")(x))
    for index in (1, 2):
        x = _block(x, index)
    x = keras.layers.LayerNormalization(name="final_norm")(x)
    x = keras.layers.Lambda(lambda t: t[:, 0], name="class_output")(x)
    return keras.Model(inputs, keras.layers.Dense(10, name="logits")(x), name="tiny_vit")


def _tokens(model, layer, images):
    return np.asarray(keras.Model(model.inputs[0], model.get_layer(layer).output)(images))


def test_names_show_the_tokens(vit):
    channel = [
        Objective.channel(vit, "vit_block2", 5, tokens=tokens).names[0]
        for tokens in ("all", "patches", "class", 3)
    ]
    assert channel == [
        "vit_block2:channel 5",
        "vit_block2:channel 5 [patch tokens]",
        "vit_block2:channel 5 [class token]",
        "vit_block2:channel 5 [token 3]",
    ]
    assert Objective.neuron(vit, "vit_block1", (0, 7)).names == ["vit_block1:neuron (0, 7)"]
    vectors = np.eye(DIM)[:2]
    assert Objective.direction(vit, "vit_block1", vectors, tokens="class").names == [
        "vit_block1:direction 0 [class token]",
        "vit_block1:direction 1 [class token]",
    ]


def test_token_scores_match_their_definitions(vit):
    images = np.random.default_rng(0).random((3, 32, 32, 3)).astype(np.float32)
    acts = _tokens(vit, "vit_block2", images)  # (3, 17, 32)
    owners = tf.zeros([3], tf.int32)

    def scores(objective):
        return objective.compile().scores(tf.constant(images), owners).numpy()

    expected = {
        "all": acts[:, :, 5].mean(axis=1),
        "patches": acts[:, 1:, 5].mean(axis=1),
        "class": acts[:, 0, 5],
        4: acts[:, 4, 5],
    }
    for tokens, values in expected.items():
        got = scores(Objective.channel(vit, "vit_block2", 5, tokens=tokens))
        np.testing.assert_allclose(got, values, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        scores(Objective.neuron(vit, "vit_block2", (3, 11))), acts[:, 3, 11], rtol=1e-4
    )
    v = np.random.default_rng(1).normal(size=DIM).astype(np.float32)
    np.testing.assert_allclose(
        scores(Objective.direction(vit, "vit_block2", v, cossim_pow=0)),
        (acts @ v).mean(axis=1),
        rtol=1e-4,
        atol=1e-5,
    )
    np.testing.assert_allclose(
        scores(Objective.direction(vit, "vit_block2", v, cossim_pow=0, tokens="patches")),
        (acts[:, 1:] @ v).mean(axis=1),
        rtol=1e-4,
        atol=1e-5,
    )


@pytest.mark.parametrize("method", [xmaco.maco, xmaco.fourier])
def test_a_vit_is_visualized_end_to_end(vit, method):
    objective = Objective.concatenate(
        [
            Objective.channel(vit, "vit_block2", 5, tokens="class"),
            Objective.channel(vit, "vit_block1", 9, tokens="patches"),
            Objective.neuron(vit, "logits", 3),
        ]
    )
    result = method(objective, steps=24, crops=2, image_size=48, seed=0)
    start, end = result.history[:3].mean(axis=0), result.history[-3:].mean(axis=0)
    assert np.all(end > start + 0.1), (start, end)
    assert np.all(np.isfinite(result.images)) and result.transparency.sum() > 0
    assert result.names == [
        "vit_block2:channel 5 [class token]",
        "vit_block1:channel 9 [patch tokens]",
        "logits[3]",
    ]


def test_concepts_and_inversion_read_token_layers(vit):
    photo = np.random.default_rng(2).random((40, 40, 3)).astype(np.float32)
    objective = Objective.inversion(vit, "vit_block1", photo)
    whole = tf.image.crop_and_resize(photo[None], [[0.0, 0.0, 1.0, 1.0]], [0], (32, 32))
    acts = _tokens(vit, "vit_block1", whole).reshape(1, -1)
    got = objective.compile().scores(whole, tf.zeros([1], tf.int32)).numpy()
    np.testing.assert_allclose(got, (acts * acts).mean(axis=1), rtol=1e-4)


@pytest.mark.parametrize(
    "tokens, error, fragment",
    [
        ("cls", ValueError, "tokens='cls'"),
        (17, ValueError, "[0, 16]"),
        (-1, ValueError, "tokens=-1"),
        (1.5, TypeError, "tokens=1.5"),
        (True, TypeError, "tokens=True"),
    ],
)
def test_bad_token_choices_name_the_argument(vit, tokens, error, fragment):
    with pytest.raises(error) as info:
        Objective.channel(vit, "vit_block2", 0, tokens=tokens)
    assert fragment in str(info.value)


def test_tokens_on_a_conv_layer_are_refused(vit):
    with pytest.raises(ValueError, match=r"not a token sequence \(B, T, D\)"):
        Objective.channel(vit, "patch_embedding", 0, tokens="class")
    assert Objective.channel(vit, "patch_embedding", 0).names == ["patch_embedding:channel 0"]


def test_a_subclassed_vit_must_be_wrapped_in_a_functional_model():
    class Encoder(keras.Model):
        def __init__(self):
            super().__init__()
            self.embed = keras.layers.Conv2D(DIM, PATCH, strides=PATCH)
            self.flat = keras.layers.Reshape((16, DIM))

        def call(self, images):
            return self.flat(self.embed(images))

    with pytest.raises(TypeError, match="no symbolic inputs"):
        Objective.layer(Encoder(), 0)
    inputs = keras.Input((32, 32, 3))
    encoder = Encoder()
    wrapped = keras.Model(inputs, keras.layers.Identity(name="tokens")(encoder(inputs)))
    assert Objective.channel(wrapped, "tokens", 0, tokens="class").visualizations == 1
