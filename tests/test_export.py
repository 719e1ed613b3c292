"""xmaco.export: PNGs reload with the pixels and alpha they were given; writes are atomic."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from xmaco import export, plot
from xmaco.result import Result


def smooth_image(height: int = 20, width: int = 28, channels: int = 3) -> np.ndarray:
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    shifts = np.arange(channels, dtype=np.float32)
    return np.sin(xx[..., None] / 4.0 + shifts) * np.cos(yy[..., None] / 5.0 - shifts)


def blob_map(height: int = 20, width: int = 28, channels: int = 3) -> np.ndarray:
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    blob = np.exp(-((yy - 8) ** 2 + (xx - 19) ** 2) / 20.0)
    rng = np.random.default_rng(0)
    return (blob[..., None] * rng.uniform(0.5, 1.5, size=(1, 1, channels))).astype(np.float32)


def make_result(count: int = 2, channels: int = 3) -> Result:
    return Result(
        images=np.stack([smooth_image(channels=channels) * (0.5 + i) for i in range(count)]),
        transparency=np.stack([blob_map(channels=channels) for _ in range(count)]),
        history=np.zeros((3, count), np.float32),
        names=[f"logits[{i}]" for i in range(count)],
        config={"values_range": [-1.0, 1.0]},
        seed=7,
    )


def reload(path) -> np.ndarray:
    array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert array is not None, f"{path} is not a readable PNG"
    return array


def no_temporary_files(directory) -> bool:
    return not [p for p in directory.rglob("*") if p.name.endswith(".tmp")]


@pytest.mark.parametrize("bits", [8, 16])
def test_png_alpha_is_the_normalised_map(tmp_path, bits):
    image, raw = smooth_image(), blob_map()
    path = export.save_png(
        tmp_path / "a.png", image, values_range=(-1, 1), transparency=raw, bits=bits
    )
    written = reload(path)
    top = 2**bits - 1
    assert written.shape == (20, 28, 4) and written.dtype == (np.uint8 if bits == 8 else np.uint16)
    alpha = plot.transparency_alpha(raw, 80)
    np.testing.assert_allclose(written[..., 3] / top, alpha, atol=0.5 / top + 1e-7)
    assert written[..., 3].max() == top and written[..., 3].min() < top // 10
    rgb = written[..., [2, 1, 0]] / top  # OpenCV reads BGR(A)
    np.testing.assert_allclose(rgb, np.clip((image + 1) / 2, 0, 1), atol=0.5 / top + 1e-6)
    assert no_temporary_files(tmp_path)


def test_png_alpha_follows_the_percentile(tmp_path):
    raw = blob_map()
    path = export.save_png(
        tmp_path / "a.png", smooth_image(), transparency=raw, transparency_percentile=50
    )
    expected = plot.transparency_alpha(raw, 50)
    np.testing.assert_allclose(reload(path)[..., 3] / 255, expected, atol=0.5 / 255 + 1e-7)


def test_png_without_alpha_and_in_grayscale(tmp_path):
    gray = smooth_image(channels=1)
    plain = reload(export.save_png(tmp_path / "g.png", gray, values_range=(-1, 1)))
    assert plain.shape == (20, 28)
    np.testing.assert_allclose(plain / 255, (gray[..., 0] + 1) / 2, atol=0.5 / 255 + 1e-6)

    with_alpha = reload(
        export.save_png(tmp_path / "ga.png", gray[..., 0], (-1, 1), blob_map(channels=1), 16)
    )
    assert with_alpha.shape == (20, 28, 4) and with_alpha.dtype == np.uint16
    assert (with_alpha[..., 0] == with_alpha[..., 1]).all()
    assert (with_alpha[..., 1] == with_alpha[..., 2]).all()

    rgb = reload(export.save_png(tmp_path / "c.png", smooth_image()))
    assert rgb.shape == (20, 28, 3)


def test_overlay_png_is_image_beside_overlay(tmp_path):
    result = make_result()
    path = export.save_overlay(tmp_path / "o.png", result, index=1, background="black")
    written = reload(path)[..., ::-1] / 255
    assert written.shape == (20, 56, 3)
    image01 = plot.normalize_image(result.images[1])
    blended = plot.composite(image01, plot.transparency_alpha(result.transparency[1]), "black")
    np.testing.assert_allclose(written[:, :28], image01, atol=0.5 / 255 + 1e-6)
    np.testing.assert_allclose(written[:, 28:], blended, atol=0.5 / 255 + 1e-6)


def test_save_result_writes_every_file_and_a_loadable_bundle(tmp_path):
    result = make_result(count=3)
    paths = export.save_result(tmp_path / "out", result, prefix="run", bits=16)
    names = [p.name for p in paths]
    assert names[:3] == ["run_00.png", "run_00_alpha.png", "run_00_overlay.png"]
    assert names[-2:] == ["run.npz", "run.json"] and len(paths) == 3 * 3 + 2
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(names)
    assert reload(paths[0]).dtype == np.uint16 and reload(paths[1]).shape == (20, 28, 4)
    assert reload(paths[2]).shape == (20, 56, 3)
    loaded = Result.load(paths[-2])
    np.testing.assert_array_equal(loaded.images, result.images)
    np.testing.assert_array_equal(loaded.transparency, result.transparency)
    assert loaded.names == result.names and loaded.seed == 7


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "keep.png"
    export.save_png(target, smooth_image(), values_range=(-1, 1))
    before = target.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("xmaco.files.os.fsync", broken)
    with pytest.raises(OSError, match="disk full"):
        export.save_png(target, np.zeros((20, 28, 3)))
    assert target.read_bytes() == before
    assert no_temporary_files(tmp_path)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda d: export.save_png(d / "x.jpg", np.zeros((4, 4, 3))), ValueError, "'.png'"),
        (
            lambda d: export.save_png(d / "blocker" / "x.png", np.zeros((4, 4, 3))),
            ValueError,
            "path",
        ),
        (lambda d: export.save_png(d, np.zeros((4, 4, 3))), ValueError, "path"),
        (lambda d: export.save_png(d / "x.png", np.zeros((4, 4, 3)), bits=12), ValueError, "bits"),
        (
            lambda d: export.save_png(d / "x.png", np.zeros((4, 4, 3)), (1, 1)),
            ValueError,
            "values_range",
        ),
        (lambda d: export.save_png(d / "x.png", np.zeros((4, 4, 2))), ValueError, "image"),
        (
            lambda d: export.save_png(
                d / "x.png", np.zeros((4, 4, 3)), transparency=np.ones((3, 3))
            ),
            ValueError,
            "transparency",
        ),
        (
            lambda d: export.save_png(
                d / "x.png",
                np.zeros((4, 4, 3)),
                transparency=np.ones((4, 4)),
                transparency_percentile=0,
            ),
            ValueError,
            "transparency_percentile",
        ),
        (
            lambda d: export.save_overlay(d / "x.png", np.zeros((4, 4, 3))),
            ValueError,
            "transparency",
        ),
        (
            lambda d: export.save_result(d / "blocker" / "out", make_result()),
            ValueError,
            "directory",
        ),
        (lambda d: export.save_result(d, make_result(), prefix="a/b"), ValueError, "prefix"),
        (lambda d: export.save_result(d, make_result().images), TypeError, "result"),
    ],
)
def test_wrong_arguments_and_unwritable_paths_are_named(tmp_path, call, error, message):
    (tmp_path / "blocker").write_text("a file where a directory is expected")
    with pytest.raises(error, match=message):
        call(tmp_path)
    assert no_temporary_files(tmp_path)
