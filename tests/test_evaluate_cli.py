"""``xmaco evaluate``: judges read pictures and saved results; tables; one-line errors."""

from __future__ import annotations

import shlex

import cv2
import numpy as np
import pytest

from xmaco import cli
from xmaco.result import Result

skimage_data = pytest.importorskip("skimage.data")

EGYPTIAN_CAT, ESPRESSO = 285, 967


def run(capsys, command: str) -> tuple[int, str, str]:
    code = cli.main(shlex.split(command))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for name, image in (("cat.png", skimage_data.chelsea()), ("cup.jpg", skimage_data.coffee())):
        cv2.imwrite(str(folder / name), image[..., ::-1])
    return folder


def rows(stdout: str, judge: str) -> list[list[str]]:
    return [line.split() for line in stdout.splitlines() if f" {judge} " in f" {line} "]


def test_photos_of_two_classes_by_two_judges(capsys, photos):
    code, stdout, stderr = run(
        capsys,
        f"evaluate {photos / 'cat.png'} {photos / 'cup.jpg'} --class 'Egyptian cat' 967 "
        "--judges lite1,mobilenet --crops 4",
    )
    assert code == 0, stderr
    assert "2 picture(s) judged by 2 network(s)" in stdout and "4 random crops" in stdout
    details = [line for line in stdout.splitlines() if line.startswith(("cat.png", "cup.jpg"))]
    assert len(details) == 4  # two pictures x two judges
    assert all("Egyptian cat (285)" in line for line in details[:2])
    assert all("espresso (967)" in line for line in details[2:])
    means = rows(stdout, "efficientnet_lite1")[-1]
    assert means[:2] == ["efficientnet_lite1", "2"] and means[3] == "1.00"  # both top-1
    assert rows(stdout, "mobilenet_v1_025")
    assert stdout.rstrip().splitlines()[-1].startswith("in ")


def test_a_saved_result_brings_its_classes(capsys, tmp_path):
    image = cv2.resize(skimage_data.chelsea(), (256, 256), interpolation=cv2.INTER_AREA)
    images = (image[None].astype("float32") / 127.5 - 1.0).repeat(2, axis=0)
    images[1, :, :, :] = -1.0  # a black picture: not a cat
    Result(
        images=images,
        transparency=np.zeros_like(images),
        history=np.zeros((1, 2), "float32"),
        names=["logits[285]", "logits[285]"],
        config={"classes": [EGYPTIAN_CAT, EGYPTIAN_CAT], "values_range": [-1.0, 1.0]},
    ).save(tmp_path / "run")
    code, stdout, stderr = run(
        capsys, f"evaluate {tmp_path / 'run.npz'} --judges mobilenet --crops 2 --quiet"
    )
    assert code == 0, stderr
    assert "run.npz[0]" not in stdout  # --quiet: the means only
    (means,) = rows(stdout, "mobilenet_v1_025")
    assert means[1] == "2" and means[3] == "0.50"  # the cat is top-1, the black picture not
    code, stdout, _ = run(capsys, f"evaluate {tmp_path / 'run.json'} --judges mobilenet --crops 0")
    assert code == 0 and "run.json[1]" in stdout and "central half only" in stdout


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ("{missing} --class 1", "Expected FILE to be a picture or a saved result"),
        ("{text} --class 1", "not an image OpenCV can read"),
        ("{cat}", "Expected --class for 'cat.png'"),
        ("{cat} --class 1 2", "Expected --class to give one class, or 1"),
        ("{cat} --class goldfsh", "Close matches: 'goldfish'"),
        ("{cat} --class 1 --judges lite9", "Expected judges"),
        ("{cat} --class 1 --judges lite1,,mobilenet", "expected comma-separated judge names"),
        ("{cat} --class 1 --crops -2", "expected a non-negative integer"),
    ],
)
def test_errors_are_one_line_and_exit_2(capsys, photos, tmp_path, arguments, expected):
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    command = arguments.format(missing=tmp_path / "none.png", text=text, cat=photos / "cat.png")
    code, stdout, stderr = run(capsys, f"evaluate {command}")
    assert code == 2 and not stdout
    assert stderr.startswith("xmaco: error: ") and stderr.count("\n") == 1, stderr
    assert expected in stderr
