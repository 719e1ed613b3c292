"""xmaco._display: the NumPy maths behind what plot draws and export writes, tested directly:
ranges, shapes, order, invariances and the exact ends of each blend."""

from __future__ import annotations

import numpy as np
import pytest

from xmaco import _display as display
from xmaco.result import Result


def random_image(seed: int = 0, shape=(12, 10, 3)) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32) * 5


# ----------------------------------------------------------------------- normalize_image


@pytest.mark.parametrize("shape", [(12, 10, 3), (12, 10, 1), (7, 9)])
@pytest.mark.parametrize("percentiles", [(0.0, 100.0), (1.0, 99.0), (20.0, 60.0)])
def test_normalize_image_keeps_the_shape_and_lands_in_zero_one(shape, percentiles):
    image = random_image(shape=shape)
    out = display.normalize_image(image, percentiles)
    assert out.shape == image.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert out.min() == 0.0 and out.max() == 1.0  # the percentiles map to the two ends


def test_normalize_image_keeps_the_order_of_the_values():
    image = random_image(1)
    out = display.normalize_image(image, (5.0, 95.0)).ravel()
    order = np.argsort(image.ravel(), kind="stable")
    assert (np.diff(out[order]) >= 0).all()


def test_normalize_image_ignores_a_positive_affine_change_of_the_values():
    image = random_image(2)
    np.testing.assert_allclose(
        display.normalize_image(image), display.normalize_image(3.0 * image - 7.0), atol=1e-5
    )


def test_normalize_image_min_max_is_exact_and_a_constant_image_is_black():
    image = np.array([[0.0, 2.0], [4.0, 8.0]])
    assert display.normalize_image(image, (0, 100)).tolist() == [[0.0, 0.25], [0.5, 1.0]]
    assert not display.normalize_image(np.full((3, 3, 3), 4.0)).any()


# -------------------------------------------------------------------- transparency_alpha


@pytest.mark.parametrize("percentile", [10.0, 50.0, 80.0, 100.0])
def test_alpha_is_a_map_in_zero_one_with_the_top_share_opaque(percentile):
    raw = np.abs(random_image(3, (16, 16, 3)))
    alpha = display.transparency_alpha(raw, percentile)
    assert alpha.shape == (16, 16) and alpha.dtype == np.float32
    assert alpha.min() >= 0.0 and alpha.max() == 1.0
    # At least the top (100 - percentile) percent of pixels are fully opaque.
    assert (alpha == 1.0).mean() >= (100.0 - percentile) / 100.0 - 1 / 256


def test_alpha_grows_with_the_map_and_ignores_its_scale():
    raw = np.abs(random_image(4, (16, 16)))
    alpha = display.transparency_alpha(raw, 90.0).ravel()
    order = np.argsort(raw.ravel(), kind="stable")
    assert (np.diff(alpha[order]) >= 0).all()
    np.testing.assert_allclose(
        display.transparency_alpha(1000.0 * raw, 90.0).ravel(), alpha, rtol=1e-5
    )


def test_alpha_of_an_rgb_map_is_that_of_its_channel_mean():
    raw = np.abs(random_image(5, (8, 8, 3)))
    np.testing.assert_allclose(
        display.transparency_alpha(raw), display.transparency_alpha(raw.mean(axis=-1)), atol=1e-6
    )


# ----------------------------------------------------------------------------- composite


@pytest.mark.parametrize("background", ["white", "black", "checkerboard"])
def test_composite_is_the_image_where_opaque_and_the_background_where_clear(background):
    image01 = display.normalize_image(random_image(6))
    opaque = display.composite(image01, np.ones((12, 10)), background)
    clear = display.composite(image01, np.zeros((12, 10)), background)
    np.testing.assert_allclose(opaque, image01, atol=1e-6)
    expected = {"white": {1.0}, "black": {0.0}, "checkerboard": {0.7, 0.9}}[background]
    assert set(np.unique(np.round(clear.astype(np.float64), 6)).tolist()) == expected
    assert clear.shape == image01.shape


def test_composite_moves_from_the_background_to_the_image_as_alpha_grows():
    image01 = np.zeros((4, 4, 3), np.float32)
    values = [display.composite(image01, np.full((4, 4), a), "white").mean() for a in (0, 0.3, 1)]
    assert values == sorted(values, reverse=True) and values[0] == 1.0 and values[-1] == 0.0


def test_composite_checks_the_alpha_shape_and_the_background():
    with pytest.raises(ValueError, match=r"alpha of shape \(4, 4\).*Received: alpha.shape"):
        display.composite(np.zeros((4, 4, 3)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="background to be one of .* Received: background='grey'"):
        display.composite(np.zeros((4, 4, 3)), np.zeros((4, 4)), "grey")


# -------------------------------------------------------------- selection and the blend


def test_overlaid_is_the_normalised_image_over_its_alpha():
    image, raw = random_image(7), np.abs(random_image(8))
    shown, blended = display.overlaid(image, raw, 0, "black", (2.0, 98.0), 60.0)
    np.testing.assert_array_equal(shown, image)
    expected = display.composite(
        display.normalize_image(image, (2.0, 98.0)), display.transparency_alpha(raw, 60.0), "black"
    )
    np.testing.assert_array_equal(blended, expected)


def test_select_reads_a_result_with_negative_indices_and_rejects_a_second_map():
    images = np.stack([np.full((4, 4, 1), float(i), np.float32) for i in range(3)])
    result = Result(
        images=images,
        transparency=images + 10,
        history=np.zeros((1, 3), np.float32),
        names=["a", "b", "c"],
        config={},
    )
    image, raw = display.select(result, None, -1)
    assert image.shape == (4, 4, 1) and (image == 2.0).all() and (raw == 12.0).all()
    with pytest.raises(ValueError, match=r"index to be an integer in \[-3, 3\)"):
        display.select(result, None, 3)
    with pytest.raises(ValueError, match="transparency=None when a Result is given"):
        display.select(result, np.zeros((4, 4)), 0)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: display.check_display("grey", (1, 99), 80), "background"),
        (lambda: display.check_display("white", (99, 1), 80), "image_percentiles"),
        (lambda: display.check_display("white", (1, 99), 0), "transparency_percentile"),
        (lambda: display.image_array(np.zeros((4, 4, 2)), "image"), "image"),
        (lambda: display.finite_array([1.0, np.nan], "magnitude"), "magnitude"),
    ],
)
def test_the_checks_name_the_argument(call, argument):
    with pytest.raises(ValueError, match=rf"Expected {argument}\b.*Received"):
        call()


# ------------------------------------------------------------------------------- spectra


def test_spectra_have_the_rfft_layout_a_unit_mean_and_no_zero_frequency():
    found, target = display.spectra(random_image(9, (12, 10, 3)), None)
    for half_plane in (found, target):
        assert half_plane.shape == (12, 6)
        assert half_plane[0, 0] == 0.0
        assert half_plane.sum() / (half_plane.size - 1) == pytest.approx(1.0)


def test_the_image_spectrum_ignores_brightness_and_contrast():
    image = random_image(10, (12, 12, 3))
    found, _ = display.spectra(image, np.ones((3, 12, 7)))
    changed, _ = display.spectra(4.0 * image + 2.0, np.ones((3, 12, 7)))
    np.testing.assert_allclose(found, changed, rtol=1e-4, atol=1e-6)


def test_spectra_check_the_magnitude_shape():
    with pytest.raises(ValueError, match=r"magnitude of shape \(C, 8, 5\).*Received"):
        display.spectra(np.zeros((8, 8, 3)), np.ones((3, 8, 8)))


def test_log_planes_are_symmetric_about_the_masked_centre():
    found, target = display.spectra(random_image(11, (10, 14, 1)), None)
    planes, (low, high) = display.log_planes((found, target), 14)
    for plane in planes:
        assert plane.shape == (10, 14) and plane.mask.sum() == 1 and plane.mask[5, 7]
        # |F(u, v)| = |F(-u, -v)|: the centred plane is point-symmetric about (5, 7).
        inner = np.ma.getdata(plane)[1:, 1:]
        np.testing.assert_allclose(inner, inner[::-1, ::-1], rtol=1e-5)
    assert low < high


def test_radial_profile_of_a_flat_magnitude_is_flat_over_rising_frequencies():
    frequency, profile = display.radial_profile(np.ones((16, 9)), 16, 16)
    assert (np.diff(frequency) > 0).all() and frequency[0] > 0
    assert frequency[-1] <= np.sqrt(0.5) + 1e-9
    np.testing.assert_allclose(profile, 1.0)
