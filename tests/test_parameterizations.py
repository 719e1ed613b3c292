import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from xmaco.parameterizations import Fourier, Maco, Pixel


@settings(max_examples=15, deadline=None)
@given(
    height=st.integers(8, 70),
    width=st.integers(8, 70),
    channels=st.sampled_from([1, 3]),
    n=st.integers(1, 3),
)
def test_every_parameterization_gives_images_in_the_unit_range(height, width, channels, n):
    for parameterization in (Maco(), Fourier(), Pixel()):
        state = parameterization.build(list(range(n)), height, width, channels)
        images = parameterization.images(state).numpy()
        assert images.shape == (n, height, width, channels)
        assert np.isfinite(images).all() and images.min() >= 0.0 and images.max() <= 1.0


@settings(max_examples=10, deadline=None)
@given(height=st.integers(8, 64), width=st.integers(8, 64), seed=st.integers(0, 1000))
def test_maco_keeps_the_magnitude_for_any_phase(height, width, seed):
    maco = Maco()
    state = maco.build([seed], height, width, 3)
    (phase,) = state.variables
    phase.assign(tf.random.stateless_uniform(phase.shape, [seed, 1], -10.0, 10.0))
    image = maco.decorrelated(state).numpy()[0]
    magnitude = np.abs(np.fft.rfft2(np.moveaxis(image, -1, 0)))
    last = -1 if width % 2 == 0 else None  # the Nyquist column is made Hermitian by irfft2d
    ratio = magnitude[:, :, 1:last] / state.constants["magnitude"][:, :, 1:last]
    assert np.std(ratio) / np.mean(ratio) < 1e-3


def test_the_initial_phase_is_uniform_and_has_no_bright_corner():
    maco = Maco()
    state = maco.build([0], 128, 128, 3)
    values = state.variables[0].numpy()
    assert values.min() >= -np.pi and values.max() <= np.pi
    assert abs(values.std() - np.pi / np.sqrt(3)) < 0.01
    image = maco.decorrelated(state).numpy()[0]
    assert np.abs(image[0, 0]).max() < 4.5  # a coherent phase would make the origin a spike


def test_each_visualization_depends_only_on_its_own_seed():
    for parameterization in (Maco(), Fourier(), Pixel()):
        batch = parameterization.images(parameterization.build([4, 5], 16, 16, 3)).numpy()
        alone = parameterization.images(parameterization.build([5], 16, 16, 3)).numpy()
        np.testing.assert_allclose(batch[1], alone[0], atol=1e-6)


def test_fourier_decay_is_checked():
    with pytest.raises(ValueError, match="decay=-1"):
        Fourier(decay=-1)


def test_a_standardised_phase_is_blind_to_its_offset_and_spread():
    # the authors' formulation: only the standardised phase forms the image
    standardised, uniform = Maco(phase="standardised"), Maco()
    for maco in (standardised, uniform):
        state = maco.build([3], 32, 32, 3)
        (phase,) = state.variables
        before = maco.images(state).numpy()
        phase.assign(phase * 2.5 + 0.7)
        moved = np.abs(maco.images(state).numpy() - before).max()
        assert (moved < 1e-5) == (maco is standardised), moved
    (phase,) = standardised.build([3], 64, 64, 3).variables
    assert abs(float(np.std(phase.numpy())) - 1.0) < 0.02  # drawn from N(0, 1)
    assert standardised.describe()["phase"] == "standardised"


def test_an_unknown_phase_names_the_parameter_and_the_choices():
    with pytest.raises(ValueError, match=r"phase to be one of 'uniform', 'standardised'.*'gauss'"):
        Maco(phase="gauss")


def test_a_parameterization_keeps_no_state_and_serves_several_runs_at_once():
    maco = Maco()
    small, large = maco.build([0], 16, 16, 3), maco.build([1, 2], 24, 40, 3)
    # the second build did not change what the first one forms
    assert maco.images(small).shape == (1, 16, 16, 3)
    assert maco.images(large).shape == (2, 24, 40, 3)
    assert vars(maco) == {"spectrum": None, "phase": "uniform"}


def test_a_parameterization_of_the_older_form_still_runs_with_a_deprecation_warning(cnn):
    import xmaco
    from xmaco.parameterizations import Parameterization, Pixel

    class Listed(Parameterization):  # build -> variables, images(variables)
        name, default_optimizer, default_learning_rate = "listed", "adam", 0.05

        def build(self, seeds, height, width, channels):
            return list(Pixel().build(seeds, height, width, channels).variables)

        def images(self, variables):
            return tf.sigmoid(variables[0])

    objective = xmaco.Objective.neuron(cnn, "logits", 0)
    with pytest.warns(DeprecationWarning, match=r"Listed.build returned a list of variables"):
        old = xmaco.visualize(objective, Listed(), steps=2, crops=1, image_size=32, seed=0)
    new = xmaco.visualize(objective, Pixel(), steps=2, crops=1, image_size=32, seed=0)
    assert old.config["method"] == "listed"
    np.testing.assert_array_equal(old.images, new.images)  # the same pixels, the same run

    class Broken(Listed):
        def build(self, seeds, height, width, channels):
            return {"pixels": super().build(seeds, height, width, channels)}

    with pytest.raises(TypeError, match=r"Broken.build to return an xmaco.parameterizations"):
        xmaco.visualize(objective, Broken(), steps=1, crops=1, image_size=32, seed=0)
