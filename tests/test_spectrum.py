"""The natural default against the ImageNet average, resizing in frequency coordinates,
estimation from images, files and the validation of the ``spectrum=`` argument."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from xmaco import spectrum
from xmaco.color import recorrelate_matrix

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_NAME = "imagenet_spectrum_decorrelated.npy"
REFERENCE = next(
    (
        path
        for path in (
            ROOT.parent / "shared" / "reference" / REFERENCE_NAME,
            Path("/work/shared/reference") / REFERENCE_NAME,
        )
        if path.is_file()
    ),
    None,
)
needs_reference = pytest.mark.skipif(REFERENCE is None, reason=f"{REFERENCE_NAME} not found")

# Octave bands [f, 2f) for f = 1/256 .. 1/8, and [1/4, 1/2), in cycles per pixel.
BANDS = [2.0**-k for k in range(8, 1, -1)]


def _frequency(height: int, width: int) -> np.ndarray:
    return np.hypot(np.fft.rfftfreq(width)[None, :], np.fft.fftfreq(height)[:, None])


def _band_means(magnitude: np.ndarray, width: int, normalise: bool = True) -> np.ndarray:
    """Mean magnitude per channel and band; after scaling the total energy to 1 if asked."""
    magnitude = magnitude.astype(np.float64)
    if normalise:
        magnitude = magnitude / np.sqrt(np.sum(magnitude**2))
    frequency = _frequency(magnitude.shape[1], width)
    masks = [(frequency >= low) & (frequency < 2 * low) for low in BANDS]
    return np.array([[channel[mask].mean() for mask in masks] for channel in magnitude])


def _errors_against_reference(size: int) -> np.ndarray:
    reference = spectrum.resize(np.load(REFERENCE), size, size)
    default = spectrum.natural(size, size)
    return _band_means(default, size) / _band_means(reference, size) - 1.0


def _power_law_images(count: int, size: int, exponent: float, channels: int, seed: int = 0):
    """Periodic random-phase images whose magnitude is exactly f ** -exponent."""
    rng = np.random.default_rng(seed)
    frequency = _frequency(size, size)
    frequency[0, 0] = 1.0
    amplitude = frequency**-exponent
    amplitude[0, 0] = 0.0
    phase = rng.uniform(-np.pi, np.pi, (count, channels, size, size // 2 + 1))
    images = np.fft.irfft2(amplitude * np.exp(1j * phase), s=(size, size))
    return np.moveaxis(images, 1, -1).astype(np.float32)


def _slope(magnitude: np.ndarray, low: float = 1 / 64, high: float = 1 / 4) -> np.ndarray:
    size = magnitude.shape[1]
    frequency = _frequency(size, size)
    edges = np.geomspace(low, high, 9)
    centres = np.sqrt(edges[:-1] * edges[1:])
    slopes = []
    for channel in magnitude:
        means = [
            channel[(frequency >= a) & (frequency < b)].mean()
            for a, b in zip(edges[:-1], edges[1:], strict=True)
        ]
        slopes.append(np.polyfit(np.log(centres), np.log(means), 1)[0])
    return np.array(slopes)


# ---------------------------------------------------------------- the natural default
@needs_reference
@pytest.mark.parametrize("size", [512, 224])
def test_natural_is_within_15_percent_of_the_imagenet_average_in_every_band(size):
    errors = _errors_against_reference(size)
    assert np.all(np.abs(errors) <= 0.15), np.round(100 * errors)


@pytest.mark.parametrize("height, width", [(33, 47), (224, 224), (512, 384), (8, 9)])
@pytest.mark.parametrize("channels", [1, 3])
def test_natural_has_the_rfft2_layout_and_is_a_valid_magnitude(height, width, channels):
    magnitude = spectrum.natural(height, width, channels)
    assert magnitude.shape == (channels, height, width // 2 + 1)
    assert magnitude.dtype == np.float32 and magnitude.flags.c_contiguous
    assert np.isfinite(magnitude).all() and (magnitude >= 0).all()


def test_natural_is_symmetric_in_frequency_and_falls_with_it():
    magnitude = spectrum.natural(256, 256)
    # rows k and -k hold the same frequencies in the rfft2 layout
    np.testing.assert_allclose(magnitude[:, 1:128], magnitude[:, 255:128:-1], rtol=1e-6)
    means = _band_means(magnitude, 256, normalise=False)
    assert np.all(np.diff(means, axis=1) < 0)


def test_natural_returns_a_copy_the_cache_cannot_be_corrupted():
    first = spectrum.natural(40, 40)
    first[:] = -1.0
    assert (spectrum.natural(40, 40) >= 0).all()


def test_grayscale_is_the_luminance_of_the_colour_model():
    colour = spectrum.natural(32, 48).astype(np.float64)
    weights = recorrelate_matrix().astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    expected = np.sqrt(np.tensordot(weights**2, colour**2, axes=1))
    np.testing.assert_allclose(spectrum.natural(32, 48, 1)[0], expected, rtol=1e-5)


# ---------------------------------------------------------------------------- resize
def test_resize_round_trip_keeps_band_averages():
    original = spectrum.natural(512, 512)
    back = spectrum.resize(spectrum.resize(original, 256, 256), 512, 512)
    ratio = _band_means(back, 512, normalise=False) / _band_means(original, 512, normalise=False)
    assert np.all(np.abs(ratio - 1.0) < 0.12), ratio
    np.testing.assert_allclose(back[:, 0, 0], original[:, 0, 0], rtol=1e-5)


def test_resize_follows_frequency_across_the_fft_wrap():
    """A smooth, anisotropic function of (fx, fy) sampled on one canvas and resized matches
    the same function sampled on the other at every bin, the rows on both sides of the wrap
    (+-1/H) and of Nyquist included. Only bins closer to zero than the source's first bins
    are left out: the source has no sample there."""

    def sample(height: int, width: int) -> np.ndarray:
        fy = np.fft.fftfreq(height)[:, None]
        fx = np.fft.rfftfreq(width)[None, :]
        values = 1.0 / (0.05 + np.hypot(2.0 * fx, fy))
        values[0, 0] = 100.0
        return values[None].astype(np.float32)

    resized = spectrum.resize(sample(64, 64), 100, 90)
    expected = sample(100, 90) * np.sqrt(100 * 90 / (64 * 64))
    compared = _frequency(100, 90) >= 1.5 / 64
    np.testing.assert_allclose(resized[0][compared], expected[0][compared], rtol=0.03)
    assert resized[0, 0, 0] == pytest.approx(100.0 * 100 * 90 / (64 * 64), rel=1e-6)


def test_resize_to_the_same_shape_returns_an_equal_new_array():
    original = spectrum.natural(30, 40)
    same = spectrum.resize(original, 30, 40)
    np.testing.assert_array_equal(same, original)
    assert same is not original


# -------------------------------------------------------------------------- estimate
def test_estimate_recovers_the_slope_of_power_law_images():
    gray = spectrum.estimate(_power_law_images(4, 128, 1.5, channels=1), 128, 128)
    assert gray.shape == (1, 128, 65)
    np.testing.assert_allclose(_slope(gray), -1.5, atol=0.1)
    # decorrelated power-law noise, recorrelated to RGB: each channel of the estimate is it
    rgb = _power_law_images(4, 128, 1.2, channels=3, seed=1) @ recorrelate_matrix()
    colour = spectrum.estimate(rgb, 128, 128)
    assert colour.shape == (3, 128, 65)
    np.testing.assert_allclose(_slope(colour), -1.2, atol=0.1)


def test_estimate_gives_the_same_result_from_arrays_and_datasets():
    rng = np.random.default_rng(3)
    images = rng.uniform(0, 255, (5, 40, 50, 3)).astype(np.float32)
    labels = np.arange(5)
    expected = spectrum.estimate(images, 32, 32)
    sources = {
        "single images": tf.data.Dataset.from_tensor_slices(images),
        "batches": tf.data.Dataset.from_tensor_slices(images).batch(2),
        "(images, labels)": tf.data.Dataset.from_tensor_slices((images, labels)).batch(3),
        "generator": (image for image in images),
    }
    for name, source in sources.items():
        np.testing.assert_allclose(
            spectrum.estimate(source, 32, 32), expected, rtol=1e-5, err_msg=name
        )


def test_estimate_does_not_depend_on_the_value_range():
    images = np.random.default_rng(4).random((3, 24, 24, 3)).astype(np.float32)
    np.testing.assert_allclose(
        spectrum.estimate(images * 255.0 - 20.0, 16, 16),
        spectrum.estimate(images, 16, 16),
        rtol=1e-4,
    )


def test_estimate_zero_frequency_measures_how_image_means_differ():
    base = np.random.default_rng(5).random((1, 16, 16, 1)).astype(np.float32)
    same = spectrum.estimate(np.concatenate([base, base]), 16, 16)
    shifted = spectrum.estimate(np.concatenate([base, base + 1.0]), 16, 16)
    assert same[0, 0, 0] == 0.0 and shifted[0, 0, 0] > 0.0


def test_estimate_gives_grayscale_from_rgb_when_asked():
    images = np.random.default_rng(6).random((2, 20, 20, 3))
    assert spectrum.estimate(images, 20, 20, channels=1).shape == (1, 20, 11)


@pytest.mark.parametrize(
    "source, channels, match",
    [
        (np.zeros((0, 8, 8, 3)), None, "at least one image"),
        (np.ones((2, 8, 8, 3)), None, "at least one image"),
        (np.zeros((2, 8, 8, 2)), None, "C = 1 or 3"),
        (np.zeros((8, 8)), None, "C = 1 or 3"),
        (np.random.default_rng(0).random((2, 8, 8, 1)), 3, "RGB images"),
        (np.full((1, 8, 8, 3), np.nan), None, "finite"),
    ],
)
def test_estimate_rejects_empty_or_wrong_input(source, channels, match):
    with pytest.raises(ValueError, match=match) as error:
        spectrum.estimate(source, 8, 8, channels)
    assert "images_or_dataset" in str(error.value)


def test_estimate_rejects_what_is_not_images():
    with pytest.raises(TypeError, match="images_or_dataset"):
        spectrum.estimate(5, 8, 8)


# ----------------------------------------------------------------------- save / load
def test_save_and_load_round_trip_exactly(tmp_path):
    original = spectrum.natural(31, 50)
    path = spectrum.save(tmp_path / "mine", original)
    assert path == tmp_path / "mine.npy"
    loaded = spectrum.load(path)
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, original)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.npy"]


def test_load_names_the_path_of_an_invalid_file(tmp_path):
    path = tmp_path / "flat.npy"
    np.save(path, np.ones((4, 4)))
    with pytest.raises(ValueError, match="path='.*flat.npy' with shape \\(4, 4\\)"):
        spectrum.load(path)


# --------------------------------------------------------------------------- resolve
def test_resolve_none_is_the_natural_default():
    np.testing.assert_array_equal(spectrum.resolve(None, 48, 40, 3), spectrum.natural(48, 40, 3))


def test_resolve_resizes_arrays_and_files_and_returns_a_new_float32_array(tmp_path):
    source = spectrum.natural(64, 64).astype(np.float64)
    from_array = spectrum.resolve(source, 32, 48, 3)
    path = spectrum.save(tmp_path / "s.npy", source)
    from_file = spectrum.resolve(str(path), 32, 48, 3)
    for result in (from_array, from_file, spectrum.resolve(path, 32, 48, 3)):
        assert result.shape == (3, 32, 25)
        assert result.dtype == np.float32 and result.flags.c_contiguous
    np.testing.assert_allclose(from_file, from_array, rtol=1e-6)
    exact = spectrum.natural(32, 48)
    resolved = spectrum.resolve(exact, 32, 48, 3)
    np.testing.assert_array_equal(resolved, exact)
    assert not np.shares_memory(resolved, exact)


def _garbage(tmp_path: Path) -> Path:
    path = tmp_path / "garbage.npy"
    path.write_text("not an array")
    return path


@pytest.mark.parametrize(
    "make, received",
    [
        (lambda tmp: np.ones((512, 257)), r"shape \(512, 257\)"),
        (lambda tmp: np.ones((1, 512, 257)), r"shape \(1, 512, 257\)"),
        (lambda tmp: np.ones((3, 4, 4)), r"at least 8 x 8.*shape \(3, 4, 4\)"),
        (lambda tmp: -np.ones((3, 16, 9)), "negative values, the lowest -1"),
        (lambda tmp: np.full((3, 16, 9), np.nan), "NaN or infinite"),
        (lambda tmp: np.zeros((3, 16, 9)), "all zero"),
        (lambda tmp: np.ones((3, 16, 9), complex), "complex128"),
        (lambda tmp: str(tmp / "missing.npy"), "missing.npy' \\(no such file\\)"),
        (_garbage, "garbage.npy'"),
    ],
)
def test_resolve_errors_name_spectrum_and_what_was_received(tmp_path, make, received):
    with pytest.raises(ValueError, match=received) as error:
        spectrum.resolve(make(tmp_path), 64, 64, 3)
    assert "Expected spectrum" in str(error.value) and "Received: spectrum" in str(error.value)


def test_resolve_rejects_other_types_and_bad_sizes():
    with pytest.raises(TypeError, match="Received: spectrum of type int"):
        spectrum.resolve(3, 16, 16, 3)
    with pytest.raises(ValueError, match="channels=2"):
        spectrum.resolve(None, 16, 16, 2)
    with pytest.raises(ValueError, match="height=1"):
        spectrum.resolve(None, 1, 16, 3)


# ---------------------------------------------------------------------------- property
@settings(max_examples=40, deadline=None)
@given(
    source=st.tuples(st.integers(8, 300), st.integers(8, 300)),
    target=st.tuples(st.integers(8, 300), st.integers(8, 300)),
    channels=st.sampled_from([1, 3]),
)
def test_natural_and_resize_give_valid_magnitudes_at_any_size(source, target, channels):
    magnitude = spectrum.natural(*source, channels)
    resized = spectrum.resize(magnitude, *target)
    for array, (height, width) in ((magnitude, source), (resized, target)):
        assert array.shape == (channels, height, width // 2 + 1)
        assert array.dtype == np.float32
        assert np.isfinite(array).all() and (array >= 0).all()
