"""xmaco.plot: the figures hold what they claim, for RGB and grayscale, one or many images."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xmaco import plot
from xmaco.color import recorrelate_matrix
from xmaco.result import Result

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

pytestmark = pytest.mark.filterwarnings("error")

SIZE = 24


def make_result(count: int = 1, channels: int = 3, interrupted: bool = False) -> Result:
    """Smooth images in (-1, 1) with a Gaussian blob of transparency at a known place."""
    yy, xx = np.mgrid[:SIZE, :SIZE].astype(np.float32)
    images, maps = [], []
    for i in range(count):
        phases = np.arange(channels, dtype=np.float32)[None, None, :] + i
        images.append(np.sin(xx[..., None] / 3.0 + phases) * np.cos(yy[..., None] / 4.0))
        blob = np.exp(-((yy - 6 - i) ** 2 + (xx - 15) ** 2) / 8.0)
        blob[blob < 1e-3] = 0.0
        maps.append(np.repeat(blob[..., None], channels, axis=-1) * (i + 1))
    steps = 5
    return Result(
        images=np.stack(images).astype(np.float32),
        transparency=np.stack(maps).astype(np.float32),
        history=np.cumsum(np.ones((steps, count), np.float32), axis=0),
        names=[f"conv:channel {i}" for i in range(count)],
        config={"values_range": [-1.0, 1.0]},
        interrupted=interrupted,
    )


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(
    params=[(1, 3), (3, 3), (1, 1), (3, 1)], ids=["rgb", "rgb-batch", "gray", "gray-batch"]
)
def result(request) -> Result:
    count, channels = request.param
    return make_result(count, channels)


def displayed(ax) -> np.ndarray:
    return np.asarray(ax.images[0].get_array())


# ----------------------------------------------------------------------------- normalisations


def test_transparency_alpha_clips_at_the_percentile_and_spans_zero_to_one():
    raw = np.arange(100, dtype=np.float32).reshape(10, 10)
    alpha = plot.transparency_alpha(np.repeat(raw[..., None], 3, axis=-1), percentile=80)
    assert alpha.shape == (10, 10) and alpha.dtype == np.float32
    assert alpha.min() == 0.0 and alpha.max() == 1.0
    top = np.percentile(raw, 80)
    np.testing.assert_array_equal(alpha == 1.0, raw >= top)
    np.testing.assert_allclose(alpha[raw < top], raw[raw < top] / top, rtol=1e-6)


def test_transparency_alpha_of_a_zero_map_is_zero():
    assert not plot.transparency_alpha(np.zeros((4, 4, 1))).any()


def test_normalize_image_clips_outliers():
    image = np.linspace(0.0, 1.0, 101, dtype=np.float32).reshape(1, 101, 1)
    image[0, 50, 0] = 1e6
    out = plot.normalize_image(image, (0, 99))
    assert out.min() == 0.0 and out.max() == 1.0
    assert out[0, 50, 0] == 1.0 and out[0, 49, 0] < 0.5


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: plot.transparency_alpha(np.ones((4, 4)), percentile=0), "percentile"),
        (lambda: plot.transparency_alpha(np.ones(4)), "transparency"),
        (lambda: plot.transparency_alpha(np.full((4, 4), np.nan)), "transparency"),
        (lambda: plot.normalize_image(np.ones((4, 4, 3)), (50, 10)), "percentiles"),
        (lambda: plot.composite(np.ones((4, 4, 3)), np.ones((3, 4))), "alpha"),
        (lambda: plot.composite(np.ones((4, 4, 3)), np.ones((4, 4)), "grey"), "background"),
    ],
)
def test_normalisations_validate_their_arguments(call, argument):
    with pytest.raises(ValueError, match=argument):
        call()


# ------------------------------------------------------------------------------------ overlay


@pytest.mark.parametrize("background", ["white", "black", "checkerboard"])
def test_overlay_blends_the_image_over_the_background(result, background):
    index = len(result) - 1
    fig = plot.overlay(result, index=index, background=background)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    shown = displayed(ax)
    channels = result.images.shape[-1]
    assert shown.shape == ((SIZE, SIZE, 3) if channels == 3 else (SIZE, SIZE))
    assert shown.min() >= 0.0 and shown.max() <= 1.0
    assert ax.get_title() == result.names[index]

    shown = shown.reshape(SIZE, SIZE, channels)
    alpha = plot.transparency_alpha(result.transparency[index])
    assert alpha.min() == 0.0 and alpha.max() == 1.0
    image01 = plot.normalize_image(result.images[index])
    backdrop = plot.composite(np.zeros_like(image01), np.zeros(alpha.shape), background)
    np.testing.assert_allclose(shown[alpha == 0], backdrop[alpha == 0], atol=1e-6)
    np.testing.assert_allclose(shown[alpha == 1], image01[alpha == 1], atol=1e-6)


def test_overlay_of_an_array_with_a_2d_map_draws_on_the_given_axes():
    fig, axes = plt.subplots(1, 2)
    image = make_result(1, 1).images[0]
    returned = plot.overlay(image[..., 0], np.ones((SIZE, SIZE)), ax=axes[1], title="mine")
    assert returned is fig and len(fig.axes) == 2
    assert not axes[0].images and displayed(axes[1]).shape == (SIZE, SIZE)
    assert axes[1].get_title() == "mine"


@pytest.mark.parametrize(
    ("kwargs", "error", "argument"),
    [
        ({"index": 3}, ValueError, "index"),
        ({"index": 1.0}, ValueError, "index"),
        ({"transparency": np.ones((SIZE, SIZE))}, ValueError, "transparency"),
        ({"background": "pink"}, ValueError, "background"),
        ({"image_percentiles": (1,)}, ValueError, "image_percentiles"),
        ({"transparency_percentile": 120}, ValueError, "percentile"),
        ({"ax": "left"}, TypeError, "ax"),
    ],
)
def test_overlay_names_the_wrong_argument(kwargs, error, argument):
    with pytest.raises(error, match=argument):
        plot.overlay(make_result(2), **kwargs)


def test_overlay_of_an_array_requires_a_matching_map():
    image = np.zeros((SIZE, SIZE, 3))
    with pytest.raises(ValueError, match="transparency=None"):
        plot.overlay(image)
    with pytest.raises(ValueError, match=r"transparency.shape=\(8, 8\)"):
        plot.overlay(image, np.ones((8, 8)))
    with pytest.raises(ValueError, match="image"):
        plot.overlay(np.zeros((SIZE, SIZE, 2)), np.ones((SIZE, SIZE)))
    with pytest.raises(TypeError, match="Result or an image"):
        plot.overlay("picture.png", np.ones((SIZE, SIZE)))


# --------------------------------------------------------------------------------------- grid


def test_grid_has_one_titled_image_per_visualization(result):
    fig = plot.grid(result)
    assert len(fig.axes) == len(result)
    assert [ax.get_title() for ax in fig.axes] == result.names
    for ax, image in zip(fig.axes, result.images, strict=True):
        shape = displayed(ax).shape
        assert shape == ((SIZE, SIZE, 3) if image.shape[-1] == 3 else (SIZE, SIZE))


def test_grid_layout_titles_and_plain_images():
    result = make_result(5)
    fig = plot.grid(result, cols=2, overlay=False, titles=list("abcde"))
    assert len(fig.axes) == 5
    assert fig.axes[0].get_subplotspec().get_gridspec().get_geometry() == (3, 2)
    assert [ax.get_title() for ax in fig.axes] == list("abcde")
    np.testing.assert_allclose(displayed(fig.axes[4]), plot.normalize_image(result.images[4]))
    with pytest.raises(ValueError, match="titles"):
        plot.grid(result, titles=["only one"])
    with pytest.raises(ValueError, match="cols"):
        plot.grid(result, cols=0)
    with pytest.raises(TypeError, match="result"):
        plot.grid(result.images)


def test_grid_titles_use_imagenet_class_names_when_known(monkeypatch):
    zoo = types.ModuleType("xmaco.zoo")
    zoo.imagenet_classes = lambda: [f"class {i}" for i in range(1000)]
    monkeypatch.setitem(sys.modules, "xmaco.zoo", zoo)
    base = make_result(3)
    result = Result(
        images=base.images,
        transparency=base.transparency,
        history=base.history,
        names=["logits[1]", "logits[207]", "conv:channel 2"],
        config={**base.config, "classes": [1, 207, None]},
    )
    titles = [ax.get_title() for ax in plot.grid(result).axes]
    assert titles == ["class 1 (1)", "class 207 (207)", "conv:channel 2"]


def test_grid_titles_with_the_real_class_list():
    classes = pytest.importorskip("xmaco.zoo").imagenet_classes()
    base = make_result(1)
    result = Result(**{**base.__dict__, "config": {"classes": [652]}})
    assert plot.grid(result).axes[0].get_title() == f"{classes[652]} (652)"


def test_grid_titles_fall_back_to_names_without_the_zoo(monkeypatch):
    monkeypatch.setitem(sys.modules, "xmaco.zoo", None)  # makes the import fail
    base = make_result(2)
    result = Result(
        images=base.images,
        transparency=base.transparency,
        history=base.history,
        names=["logits[1]", "logits[2]"],
        config={"classes": [1, 2]},
    )
    assert [ax.get_title() for ax in plot.grid(result).axes] == ["logits[1]", "logits[2]"]


# ------------------------------------------------------------------------------------ history


@pytest.mark.parametrize("interrupted", [False, True])
def test_history_draws_one_labelled_line_per_visualization(result, interrupted):
    result = Result(**{**result.__dict__, "interrupted": interrupted})
    fig = plot.history(result)
    ax = fig.axes[0]
    assert len(ax.lines) == len(result)
    for line, column in zip(ax.lines, result.history.T, strict=True):
        np.testing.assert_array_equal(line.get_ydata(), column)
        np.testing.assert_array_equal(line.get_xdata(), np.arange(result.history.shape[0]))
    assert [text.get_text() for text in ax.get_legend().get_texts()] == result.names
    assert ("interrupted" in ax.get_title()) is interrupted


# ----------------------------------------------------------------------------------- spectrum


def radial_magnitude(channels: int, height: int, width: int) -> np.ndarray:
    """A 1/f magnitude in rfft2 layout, symmetric as the spectrum of a real image is."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    radius = np.maximum(np.sqrt(fy**2 + fx**2), 1.0 / max(height, width))
    return np.repeat((1.0 / radius)[None], channels, axis=0).astype(np.float32)


def image_with_magnitude(magnitude: np.ndarray, seed: int = 0) -> np.ndarray:
    """An image (H, W, C) whose decorrelated spectrum has exactly ``magnitude``: MACO's image."""
    channels, height, _ = magnitude.shape
    width = 2 * (magnitude.shape[2] - 1)
    noise = np.random.default_rng(seed).normal(size=(channels, height, width))
    phase = np.angle(np.fft.rfft2(noise))
    planes = np.fft.irfft2(magnitude * np.exp(1j * phase), s=(height, width))
    image = np.moveaxis(planes, 0, -1)
    return image @ recorrelate_matrix() if channels == 3 else image


@pytest.mark.parametrize("channels", [3, 1])
def test_spectrum_of_a_maco_image_matches_its_constraint(channels):
    magnitude = radial_magnitude(channels, 32, 32)
    fig = plot.spectrum(image_with_magnitude(magnitude), magnitude=magnitude)
    assert len(fig.axes) == 3
    found, target = (displayed(ax) for ax in fig.axes[:2])
    assert found.shape == target.shape == (32, 32)
    np.testing.assert_allclose(found, target, atol=1e-4)
    profiles = fig.axes[2].lines
    assert len(profiles) == 2
    np.testing.assert_allclose(profiles[0].get_ydata(), profiles[1].get_ydata(), rtol=1e-4)
    assert fig.axes[2].get_xscale() == fig.axes[2].get_yscale() == "log"


def test_spectrum_of_white_noise_is_flatter_than_its_constraint(result):
    magnitude = radial_magnitude(result.images.shape[-1], SIZE, SIZE)
    noise = np.random.default_rng(1).normal(size=result.images.shape).astype(np.float32)
    noisy = Result(**{**result.__dict__, "images": noise})
    fig = plot.spectrum(noisy, index=len(result) - 1, magnitude=magnitude)
    assert fig.get_suptitle() == result.names[-1]
    log_frequency = np.log(fig.axes[2].lines[0].get_xdata())
    found, target = (
        np.polyfit(log_frequency, np.log(line.get_ydata()), 1)[0] for line in fig.axes[2].lines
    )
    assert target < -0.8 and abs(found) < 0.3


def test_spectrum_defaults_to_the_natural_magnitude():
    natural = pytest.importorskip("xmaco.spectrum").natural
    image = make_result(1).images[0]
    default = plot.spectrum(image)
    explicit = plot.spectrum(image, magnitude=natural(SIZE, SIZE, 3))
    np.testing.assert_array_equal(displayed(default.axes[1]), displayed(explicit.axes[1]))


def test_spectrum_checks_the_magnitude_shape():
    with pytest.raises(ValueError, match=r"magnitude of shape \(C, 24, 13\)"):
        plot.spectrum(np.zeros((SIZE, SIZE, 3)), magnitude=np.ones((3, SIZE, SIZE)))


# ------------------------------------------------------------------------- crop_to_importance


def box_share(mass: np.ndarray, box: tuple[int, int, int, int]) -> float:
    y0, y1, x0, x1 = box
    return float(mass[y0:y1, x0:x1].sum() / mass.sum())


def test_crop_to_importance_finds_a_block_exactly():
    heat = np.zeros((40, 50, 3), np.float32)
    heat[10:18, 30:45] = 2.0
    image = np.random.default_rng(0).random((40, 50, 3))
    box, crop = plot.crop_to_importance(image, heat, quantile=1.0, return_image=True)
    assert box == (10, 18, 30, 45)
    np.testing.assert_array_equal(crop, image[10:18, 30:45].astype(np.float32))


def test_crop_to_importance_centres_on_a_gaussian_blob():
    yy, xx = np.mgrid[:64, :64]
    heat = np.exp(-((yy - 20.0) ** 2 + (xx - 40.0) ** 2) / (2 * 3.0**2))
    box = plot.crop_to_importance(np.zeros((64, 64, 1)), heat, quantile=0.9)
    y0, y1, x0, x1 = box
    assert box_share(heat, box) >= 0.9
    assert y0 < 20 < y1 and x0 < 40 < x1
    # A disc of radius 2.15 sigma holds 90%; the box stays within about 3 sigma of the centre.
    assert 20 - 10 <= y0 and y1 <= 20 + 11 and 40 - 10 <= x0 and x1 <= 40 + 11
    assert abs((y0 + y1) / 2 - 20.5) <= 1 and abs((x0 + x1) / 2 - 40.5) <= 1


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 12),
    st.integers(1, 12),
    st.floats(0.05, 1.0),
    st.integers(0, 2**16),
)
def test_crop_to_importance_box_holds_the_quantile_and_is_tight(height, width, quantile, seed):
    rng = np.random.default_rng(seed)
    heat = rng.random((height, width)) ** 4 * (rng.random((height, width)) < 0.6)
    box = plot.crop_to_importance(np.zeros((height, width, 3)), heat, quantile=quantile)
    y0, y1, x0, x1 = box
    assert 0 <= y0 < y1 <= height and 0 <= x0 < x1 <= width
    if heat.sum() == 0:
        assert box == (0, height, 0, width)
        return
    need = quantile * (1 - 1e-6)
    assert box_share(heat, box) >= need
    smaller = []
    if y1 - y0 > 1:
        smaller += [(y0 + 1, y1, x0, x1), (y0, y1 - 1, x0, x1)]
    if x1 - x0 > 1:
        smaller += [(y0, y1, x0 + 1, x1), (y0, y1, x0, x1 - 1)]
    assert all(box_share(heat, other) < quantile * (1 + 1e-6) for other in smaller)


@pytest.mark.parametrize(
    ("transparency", "quantile", "argument"),
    [
        (-np.ones((8, 8)), 0.9, "non-negative"),
        (np.ones((8, 8)), 0.0, "quantile"),
        (np.ones((8, 8)), 1.5, "quantile"),
        (np.ones((8, 9)), 0.9, "transparency"),
    ],
)
def test_crop_to_importance_validates(transparency, quantile, argument):
    with pytest.raises(ValueError, match=argument):
        plot.crop_to_importance(np.zeros((8, 8, 3)), transparency, quantile=quantile)


def test_importing_xmaco_selects_no_backend():
    # Keras imports pyplot, which is harmless: the backend is chosen at the first figure. A
    # backend that cannot load would make any import that chose one fail.
    code = "import xmaco, xmaco.plot, xmaco.export, xmaco.callbacks; print('imported')"
    env = {**os.environ, "MPLBACKEND": "module://no_such_backend_for_xmaco_tests"}
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, env=env
    )
    assert out.returncode == 0 and out.stdout.strip() == "imported", out.stderr[-2000:]
