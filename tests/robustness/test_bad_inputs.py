"""A catalogue of bad inputs across the public API and the command line.

Each row is (call, exception, fragments): the call must raise that exception before any
optimisation starts, and its message must contain every fragment, which together name the
argument, what was expected and what was received. Command-line rows must end in exit status 2
with one line ``xmaco: error: ...`` on stderr, nothing on stdout and no traceback.

A bug found here becomes a row marked ``pytest.mark.xfail(strict=True, reason=...)`` (the file,
the line, the change) and is reported to the owner of that file, who removes the mark with the
fix.

Rows that the unit tests of each module already hold (tests/test_engine.py,
tests/test_objectives.py, tests/test_cli.py, ...) are not repeated here.
"""

from __future__ import annotations

import dataclasses
import types
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest

import xmaco
from xmaco import Objective, Result, cli, schedules, spectrum, zoo

SETTINGS = dict(steps=2, crops=1, image_size=16, seed=0, verbose=False)
CLI_SETTINGS = ["--steps", "1", "--crops", "1", "--image-size", "16", "--seed", "0", "--quiet"]
HAS_PROC = Path("/proc/self").is_dir()


@pytest.fixture(scope="module")
def env(tmp_path_factory, cnn) -> types.SimpleNamespace:
    """The conftest CNN (layers conv1, conv2, pool, logits; 32x32x3 in, 5 logits) and files."""
    folder = tmp_path_factory.mktemp("bad-inputs")
    files = {name: folder / name for name in ("tiny.keras", "notes.txt", "garbage.keras")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # inside Keras' saving code
        cnn.save(files["tiny.keras"])
        dense_inputs = keras.Input((10,))
        dense = keras.Model(dense_inputs, keras.layers.Dense(2, name="d")(dense_inputs))
        files["dense.keras"] = folder / "dense.keras"
        dense.save(files["dense.keras"])
        any_size_inputs = keras.Input((None, None, 3))
        any_size = keras.Model(
            any_size_inputs, keras.layers.Conv2D(2, 3, name="c")(any_size_inputs)
        )
        files["anysize.keras"] = folder / "anysize.keras"
        any_size.save(files["anysize.keras"])
        lambda_inputs = keras.Input((16, 16, 3))
        with_lambda = keras.Model(
            lambda_inputs, keras.layers.Lambda(lambda t: t * 2.0, name="double")(lambda_inputs)
        )
        files["lambda.keras"] = folder / "lambda.keras"
        with_lambda.save(files["lambda.keras"])
    files["notes.txt"].write_text("not a model")
    files["garbage.keras"].write_bytes(b"PK\x03\x04 but no archive follows" * 4)
    files["garbage.h5"] = folder / "garbage.h5"
    files["garbage.h5"].write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)))
    files["garbage.npy"] = folder / "garbage.npy"
    files["garbage.npy"].write_bytes(b"\x93NUMPY\x01\x00" + b"{'descr': '<f4', " * 3)
    files["dir.keras"] = folder / "dir.keras"
    files["dir.keras"].mkdir()
    files["dir.npy"] = folder / "dir.npy"
    files["dir.npy"].mkdir()

    def run(method=xmaco.maco, objective=None, **keywords):
        objective = Objective.neuron(cnn, "logits", 0) if objective is None else objective
        return method(objective, **{**SETTINGS, **keywords})

    return types.SimpleNamespace(cnn=cnn, files=files, run=run, folder=folder)


def built_optimizer() -> keras.optimizers.Optimizer:
    optimizer = keras.optimizers.Adam()
    optimizer.build([keras.Variable(1.0)])
    return optimizer


def two_input_model() -> keras.Model:
    a, b = keras.Input((8, 8, 3)), keras.Input((8, 8, 3))
    return keras.Model([a, b], keras.layers.Add(name="add")([a, b]))


def five_channel_model() -> keras.Model:
    return keras.Sequential([keras.Input((8, 8, 5)), keras.layers.Conv2D(2, 3, name="c")])


def tiny_result() -> Result:
    zeros = np.zeros((1, 8, 8, 3), np.float32)
    return Result(zeros, zeros, np.zeros((1, 1), np.float32), ["a"], {})


NAN = float("nan")

API = [
    # --- run settings: steps, crops, sizes, seeds ---------------------------------------------
    pytest.param(
        lambda e: e.run(steps="10"), ValueError, ["steps='10'", "positive integer"], id="steps-text"
    ),
    # every method takes steps=None as the preset's; zero is refused by every one
    pytest.param(
        lambda e: e.run(xmaco.fourier, steps=0), ValueError, ["steps=0"], id="steps-zero-fourier"
    ),
    pytest.param(
        lambda e: e.run(preset="quick"),
        ValueError,
        ["Expected preset to be one of 'reference', 'fast'", "preset='quick'"],
        id="preset-unknown",
    ),
    pytest.param(lambda e: e.run(steps=True), ValueError, ["steps=True"], id="steps-bool"),
    pytest.param(
        lambda e: e.run(crops=2.0), ValueError, ["crops=2.0", "positive integer"], id="crops-float"
    ),
    pytest.param(lambda e: e.run(crops=-3), ValueError, ["crops=-3"], id="crops-negative"),
    pytest.param(
        lambda e: e.run(image_size="32"),
        ValueError,
        ["image_size='32'", "(height, width)"],
        id="image-size-text",
    ),
    pytest.param(
        lambda e: e.run(image_size=(32, 7)),
        ValueError,
        ["image_size=(32, 7)", ">= 8"],
        id="image-size-one-side-small",
    ),
    pytest.param(
        lambda e: e.run(image_size=(32, 32, 3)),
        ValueError,
        ["image_size=(32, 32, 3)", "(height, width)"],
        id="image-size-three-sides",
    ),
    pytest.param(
        lambda e: e.run(image_size=32.0), ValueError, ["image_size=32.0"], id="image-size-float"
    ),
    pytest.param(
        lambda e: e.run(model_input_size=0),
        ValueError,
        ["model_input_size=0", ">= 1"],
        id="model-input-size-zero",
    ),
    pytest.param(
        lambda e: e.run(seed=1.5), ValueError, ["seed=1.5", "non-negative integer"], id="seed-float"
    ),
    pytest.param(lambda e: e.run(seed="0"), ValueError, ["seed='0'"], id="seed-text"),
    pytest.param(
        lambda e: e.run(seed=2**63),
        ValueError,
        ["seed=9223372036854775808", "2**62"],
        id="seed-too-large",
    ),
    pytest.param(
        lambda e: e.run(batch_size="4"), ValueError, ["batch_size='4'"], id="batch-size-text"
    ),
    pytest.param(
        lambda e: e.run(batch_size=2.5), ValueError, ["batch_size=2.5"], id="batch-size-float"
    ),
    # --- schedules: noise, crop size, learning rate --------------------------------------------
    pytest.param(
        lambda e: e.run(noise="0.1"),
        TypeError,
        ["noise='0.1'", "number or a schedule"],
        id="noise-text",
    ),
    pytest.param(
        lambda e: e.run(noise=NAN), ValueError, ["noise=nan", "[0.0, inf]"], id="noise-nan"
    ),
    pytest.param(
        lambda e: e.run(noise=lambda step: -1.0),
        ValueError,
        ["noise=-1.0", "[0.0, inf]"],
        id="noise-schedule-negative",
    ),
    pytest.param(
        lambda e: e.run(learning_rate=-1),
        ValueError,
        ["learning_rate=-1.0", "(0.0, inf]"],
        id="learning-rate-negative",
    ),
    pytest.param(
        lambda e: e.run(learning_rate=lambda step: 1 / 0),
        ValueError,
        ["learning_rate(step) -> float", "step=0", "ZeroDivisionError"],
        id="learning-rate-schedule-raises",
    ),
    pytest.param(
        lambda e: e.run(crop_size=schedules.linear(0.5, -0.1, 10)),
        ValueError,
        ["crop_size=-0.0999", "at step 9", "(0.0, 1.0]"],
        id="crop-size-schedule-ends-outside",
    ),
    pytest.param(
        lambda e: e.run(crop_size=lambda step: "x"),
        ValueError,
        ["crop_size(step) -> float", "'x'"],
        id="crop-size-schedule-returns-text",
    ),
    pytest.param(
        lambda e: schedules.linear("a", 0.1, 10),
        (TypeError, ValueError),
        ["start='a'"],
        id="linear-start-text",
    ),
    pytest.param(
        lambda e: schedules.cosine(1.0, NAN, 10),
        (TypeError, ValueError),
        ["end=nan"],
        id="cosine-end-nan",
    ),
    pytest.param(
        lambda e: schedules.constant("fast"),
        (TypeError, ValueError),
        ["value='fast'"],
        id="constant-text",
    ),
    pytest.param(
        lambda e: schedules.as_schedule("0.5", "crop_size", 0.0, 1.0),
        TypeError,
        ["crop_size='0.5'", "number or a schedule"],
        id="as-schedule-text",
    ),
    # --- value range, optimizer, callbacks, flags, objective ----------------------------------
    pytest.param(
        lambda e: e.run(values_range=(NAN, 1)),
        ValueError,
        ["values_range=(nan, 1)", "finite"],
        id="values-range-nan",
    ),
    pytest.param(
        lambda e: e.run(values_range=(0, 1, 2)),
        ValueError,
        ["values_range=(0, 1, 2)", "(low, high)"],
        id="values-range-three",
    ),
    pytest.param(
        lambda e: e.run(values_range=(1, 1)),
        ValueError,
        ["values_range=(1, 1)", "low < high"],
        id="values-range-empty",
    ),
    pytest.param(
        lambda e: e.run(optimizer=built_optimizer()),
        ValueError,
        ["optimizer", "fresh (unbuilt)", "a built Adam"],
        id="optimizer-already-used",
    ),
    pytest.param(
        lambda e: e.run(callbacks=3),
        TypeError,
        ["callbacks", "Received", "3"],
        id="callbacks-int",
    ),
    pytest.param(
        lambda e: e.run(jit_compile=""),
        (TypeError, ValueError),
        ["jit_compile=''"],
        id="jit-compile-text",
    ),
    pytest.param(
        lambda e: xmaco.maco(None, **SETTINGS),
        TypeError,
        ["objective of type NoneType", "xmaco.Objective"],
        id="objective-none",
    ),
    # --- spectra -------------------------------------------------------------------------------
    pytest.param(
        lambda e: e.run(spectrum=str(e.folder / "missing.npy")),
        ValueError,
        ["spectrum='", "missing.npy'", "existing .npy file"],
        id="spectrum-missing-file",
    ),
    pytest.param(
        lambda e: e.run(spectrum=e.files["garbage.npy"]),
        ValueError,
        ["spectrum='", "garbage.npy'", ".npy file holding"],
        id="spectrum-garbage-file",
    ),
    pytest.param(
        lambda e: e.run(spectrum=3),
        TypeError,
        ["spectrum of type int", "None, a path"],
        id="spectrum-int",
    ),
    pytest.param(
        lambda e: e.run(spectrum=np.ones((1, 16, 9))),
        ValueError,
        ["C = 3", "shape (1, 16, 9)"],
        id="spectrum-grayscale-for-rgb",
    ),
    pytest.param(
        lambda e: e.run(spectrum=np.ones((3, 16, 9), complex)),
        ValueError,
        ["real magnitudes", "complex128"],
        id="spectrum-complex",
    ),
    pytest.param(
        lambda e: e.run(spectrum=np.full((3, 16, 9), NAN)),
        ValueError,
        ["finite values", "432 NaN"],
        id="spectrum-nan",
    ),
    pytest.param(
        lambda e: e.run(spectrum=np.zeros((3, 16, 9))),
        ValueError,
        ["non-zero magnitude", "all zero"],
        id="spectrum-zero",
    ),
    pytest.param(
        lambda e: e.run(spectrum=np.full((3, 16, 9), "a")),
        ValueError,
        ["real numbers", "<U1"],
        id="spectrum-text",
    ),
    pytest.param(
        lambda e: e.run(spectrum=[[1.0, 2.0], [3.0]]),
        ValueError,
        ["Expected spectrum", "Received"],
        id="spectrum-ragged-list",
    ),
    pytest.param(
        lambda e: spectrum.resize(spectrum.natural(16, 16), 4, 16),
        ValueError,
        ["height=4", ">= 8"],
        id="resize-small-height",
    ),
    pytest.param(
        lambda e: spectrum.resize(spectrum.natural(16, 16), 16.0, 16),
        TypeError,
        ["height=16.0", "integer"],
        id="resize-float-height",
    ),
    pytest.param(
        lambda e: spectrum.natural(16, 16, 2),
        ValueError,
        ["channels=2", "1 or 3"],
        id="natural-two-channels",
    ),
    pytest.param(
        lambda e: spectrum.estimate("photos/", 16, 16),
        TypeError,
        ["images_or_dataset of type str", "NumPy array of images"],
        id="estimate-a-path",
    ),
    pytest.param(
        lambda e: spectrum.estimate(np.ones((2, 12, 12, 3)), 16, 16),
        ValueError,
        ["images_or_dataset", "not constant", "only constant ones"],
        id="estimate-constant-images",
    ),
    pytest.param(
        lambda e: xmaco.fourier(Objective.neuron(e.cnn, "logits", 0), **SETTINGS, decay="1"),
        ValueError,
        ["decay='1'", "[0, 4]"],
        id="fourier-decay-text",
    ),
    pytest.param(
        lambda e: xmaco.fourier(Objective.neuron(e.cnn, "logits", 0), **SETTINGS, decay=NAN),
        ValueError,
        ["decay=nan", "[0, 4]"],
        id="fourier-decay-nan",
    ),
    # --- layers, units, directions, references -------------------------------------------------
    pytest.param(
        lambda e: Objective.layer(e.cnn, None),
        TypeError,
        ["layer=None", "name (str) or index (int)"],
        id="layer-none",
    ),
    pytest.param(
        lambda e: Objective.layer(e.cnn, ""),
        ValueError,
        ["layer=''", "layer name of model 'tiny_cnn'"],
        id="layer-empty",
    ),
    pytest.param(
        lambda e: Objective.layer(e.cnn, "CONV1"),
        ValueError,
        ["layer='CONV1'", "Close matches: 'conv1'"],
        id="layer-wrong-case",
    ),
    pytest.param(
        lambda e: Objective.channel(e.cnn, "conv1", -1),
        ValueError,
        ["channel=-1", "[0, 7]"],
        id="channel-negative",
    ),
    pytest.param(
        lambda e: Objective.channel(e.cnn, "conv1", 1.0),
        TypeError,
        ["channel=1.0", "int or a list of ints"],
        id="channel-float",
    ),
    pytest.param(
        lambda e: Objective.channel(e.cnn, "conv1", True),
        TypeError,
        ["channel=True"],
        id="channel-bool",
    ),
    pytest.param(
        lambda e: Objective.channel(e.cnn, "conv1", "3"),
        TypeError,
        ["channel='3'"],
        id="channel-text",
    ),
    pytest.param(
        lambda e: Objective.neuron(e.cnn, "logits", -1),
        ValueError,
        ["index=-1", "[0, 4]"],
        id="neuron-negative",
    ),
    pytest.param(
        lambda e: Objective.neuron(e.cnn, "logits", []),
        ValueError,
        ["index=[]", "non-empty list"],
        id="neuron-empty",
    ),
    pytest.param(
        lambda e: Objective.neuron(e.cnn, "conv1", (0, 0)),
        ValueError,
        ["index=(0, 0)", "(30, 30, 8)"],
        id="neuron-short-coordinates",
    ),
    pytest.param(
        lambda e: Objective.neuron(e.cnn, "conv1", (0.5, 0, 0)),
        (TypeError, ValueError),
        ["index=(0.5, 0, 0)"],
        id="neuron-fractional-coordinates",
    ),
    pytest.param(
        lambda e: Objective.direction(e.cnn, "conv1", np.full(8, NAN)),
        ValueError,
        ["vector", "finite and non-zero", "NaN"],
        id="direction-nan",
    ),
    pytest.param(
        lambda e: Objective.direction(e.cnn, "conv1", "abc"),
        TypeError,
        ["vector='abc'", "(8,)"],
        id="direction-text",
    ),
    pytest.param(
        lambda e: Objective.direction(e.cnn, "conv1", np.ones((2, 2, 8))),
        ValueError,
        ["shape (2, 2, 8)", "(N, 8)"],
        id="direction-three-axes",
    ),
    pytest.param(
        lambda e: Objective.direction(e.cnn, "conv1", np.ones(8), "2"),
        ValueError,
        ["cossim_pow='2'", ">= 0.0"],
        id="cossim-pow-text",
    ),
    pytest.param(
        lambda e: Objective.channel(e.cnn, "conv1", 0, tokens="class"),
        ValueError,
        ["tokens='class'", "token sequence"],
        id="tokens-on-a-conv-layer",
    ),
    pytest.param(
        lambda e: Objective.inversion(e.cnn, "conv1", np.ones((8, 8, 1))),
        ValueError,
        ["shape (8, 8, 1)", "(H, W, 3)"],
        id="inversion-wrong-channels",
    ),
    pytest.param(
        lambda e: Objective.inversion(e.cnn, "conv1", np.full((8, 8, 3), NAN)),
        ValueError,
        ["image", "finite", "NaN"],
        id="inversion-nan",
    ),
    pytest.param(
        lambda e: Objective.inversion(e.cnn, "conv1", "photo.png"),
        TypeError,
        ["image of type str", "(H, W, 3)"],
        id="inversion-a-path",
    ),
    pytest.param(
        lambda e: Objective.custom(e.cnn, "conv1", "mean"),
        TypeError,
        ["Expected function to be a callable", "function='mean'", "of type str"],
        id="custom-not-callable",
    ),
    pytest.param(
        lambda e: Objective.custom(e.cnn, "conv1", lambda a: a[:, 0, 0]),
        ValueError,
        ["Expected function to return one score per image", "(2,)", "Received: shape (2, 8)"],
        id="custom-not-one-score-per-image",
    ),
    pytest.param(
        lambda e: Objective.layer(e.cnn, 0) / 0,
        ZeroDivisionError,
        ["non-zero divisor", "Received: 0"],
        id="divide-by-zero",
    ),
    pytest.param(
        lambda e: Objective.layer(e.cnn, 0) * "2",
        TypeError,
        ["'2' of type str", "finite number"],
        id="multiply-by-text",
    ),
    pytest.param(
        lambda e: Objective.concatenate([]),
        TypeError,
        ["objectives=[]", "non-empty list"],
        id="concatenate-empty",
    ),
    pytest.param(
        lambda e: Objective.concatenate(o for o in [Objective.layer(e.cnn, 0)]),
        TypeError,
        ["objectives=<generator", "non-empty list"],
        id="concatenate-generator",
    ),
    pytest.param(
        lambda e: Objective.layer(five_channel_model(), 0),
        ValueError,
        ["input shape (None, 8, 8, 5)", "1 or 3 channels"],
        id="model-five-channels",
    ),
    pytest.param(
        lambda e: Objective.layer(two_input_model(), 0),
        ValueError,
        ["2 inputs", "single image input"],
        id="model-two-inputs",
    ),
    # --- classes and models ---------------------------------------------------------------------
    pytest.param(
        lambda e: zoo.class_index(1000), ValueError, ["class=1000", "(0-999)"], id="class-1000"
    ),
    pytest.param(
        lambda e: zoo.class_index(-1), ValueError, ["class=-1", "(0-999)"], id="class-negative"
    ),
    pytest.param(
        lambda e: zoo.class_index(1.5), TypeError, ["class=1.5", "(0-999)"], id="class-float"
    ),
    pytest.param(
        lambda e: zoo.class_index(None), TypeError, ["class=None", "(0-999)"], id="class-none"
    ),
    pytest.param(
        lambda e: zoo.class_index(""), ValueError, ["class=''", "or name"], id="class-empty"
    ),
    pytest.param(
        lambda e: zoo.load(5),
        TypeError,
        ["model=5", "catalogue name or a path"],
        id="model-int",
    ),
    pytest.param(
        lambda e: zoo.load("efficientnet_lite9"),
        ValueError,
        ["model='efficientnet_lite9'", "Close matches: ", "'efficientnet_lite0'"],
        id="model-unknown-name",
    ),
    pytest.param(
        lambda e: zoo.load(e.files["notes.txt"]),
        ValueError,
        ["notes.txt'", ".keras or .h5"],
        id="model-text-file",
    ),
    pytest.param(
        lambda e: zoo.load(e.files["garbage.keras"]),
        ValueError,
        ["garbage.keras'", "cannot read"],
        id="model-garbage-keras",
    ),
    pytest.param(
        lambda e: zoo.load(e.files["garbage.h5"]),
        ValueError,
        ["garbage.h5'", "cannot read"],
        id="model-garbage-h5",
    ),
    pytest.param(
        lambda e: zoo.load(e.files["dir.keras"]),
        ValueError,
        ["model='", "dir.keras'"],
        id="model-a-directory",
    ),
    pytest.param(
        lambda e: zoo.load(e.files["lambda.keras"]),
        ValueError,
        ["lambda.keras'", "arbitrary code execution"],
        id="model-with-python-code",
    ),
    pytest.param(
        lambda e: zoo.load(e.files["tiny.keras"], values_range=(1, 0)),
        ValueError,
        ["values_range=(1, 0)", "low < high"],
        id="model-values-range",
    ),
    pytest.param(
        lambda e: zoo.load(e.files["tiny.keras"], bogus=1),
        TypeError,
        ["bogus"],
        id="model-unknown-keyword",
    ),
    # --- output paths ----------------------------------------------------------------------------
    pytest.param(
        lambda e: tiny_result().save(e.folder / ("x" * 300)),
        ValueError,
        ["path='", "File name too long"],
        id="result-name-too-long",
    ),
    pytest.param(
        lambda e: spectrum.save(e.files["dir.npy"], spectrum.natural(16, 16)),
        ValueError,
        ["path='", "dir.npy'", "Is a directory"],
        id="spectrum-save-onto-a-directory",
    ),
    pytest.param(
        lambda e: tiny_result().save("/proc/run"),
        ValueError,
        ["path='/proc'", "writable directory"],
        id="result-save-in-proc",
        marks=pytest.mark.skipif(not HAS_PROC, reason="needs /proc"),
    ),
    pytest.param(
        lambda e: Result.load(e.folder),
        ValueError,
        ["path='", "does not exist", ".npz"],
        id="result-load-a-directory",
    ),
    # --- results that Result.load would refuse are not written -----------------------------------
    pytest.param(
        lambda e: dataclasses.replace(tiny_result(), images=np.zeros((1, 8, 8, 3), int)).save(
            e.folder / "ints"
        ),
        ValueError,
        ["images has dtype int64", "floating point"],
        id="result-save-integer-images",
    ),
    pytest.param(
        lambda e: dataclasses.replace(tiny_result(), images=np.zeros((8, 8, 3), np.float32)).save(
            e.folder / "three-axes"
        ),
        ValueError,
        ["images (8, 8, 3)", "NHWC"],
        id="result-save-images-without-batch-axis",
    ),
    pytest.param(
        lambda e: dataclasses.replace(tiny_result(), names=["a", "b"]).save(e.folder / "names"),
        ValueError,
        ["2 names for 1 images"],
        id="result-save-names-mismatch",
    ),
]


@pytest.mark.parametrize(("call", "error", "fragments"), API)
def test_the_api_names_argument_expectation_and_value(env, call, error, fragments):
    with pytest.raises(error) as caught:
        call(env)
    message = str(caught.value)
    missing = [fragment for fragment in fragments if fragment not in message]
    assert not missing, f"{missing} not in: {message}"


def _cli(env, kind: str, arguments: list[str]) -> list[str]:
    """The full command line of a row: visualize rows get the tiny model and fast settings."""
    places = {"{folder}": env.folder, **{f"{{{name}}}": path for name, path in env.files.items()}}
    for placeholder, path in places.items():
        arguments = [a.replace(placeholder, str(path)) for a in arguments]
    if kind != "visualize":
        return [kind, *arguments]
    defaults = ["--model", str(env.files["tiny.keras"]), "--out", str(env.folder / "out")]
    return ["visualize", *CLI_SETTINGS, *defaults, *arguments]


CLI = [
    pytest.param("visualize", ["--class", "1000"], ["class='1000'", "(0-999)"], id="class-1000"),
    pytest.param(
        "visualize",
        ["--layer", "conv1", "--neuron", "a,b"],
        ["argument --neuron", "comma-separated coordinates", "received 'a,b'"],
        id="neuron-not-numbers",
    ),
    pytest.param(
        "visualize",
        ["--layer", "conv1", "--neuron", "99,0,0"],
        ["index=(99, 0, 0)", "(30, 30, 8)"],
        id="neuron-outside",
    ),
    pytest.param(
        "visualize",
        ["--layer", "logits", "--neuron", "5"],
        ["index=5", "[0, 4]"],
        id="logit-outside",
    ),
    pytest.param(
        "visualize",
        ["--layer", "nope"],
        ["layer='nope'", "layer name of model"],
        id="layer-unknown",
    ),
    pytest.param(
        "visualize",
        ["--class", "1", "--seed", "-1"],
        ["argument --seed", "non-negative integer", "received '-1'"],
        id="seed-negative",
    ),
    pytest.param(
        "visualize",
        ["--class", "1", "--seed", "1.5"],
        ["argument --seed", "received '1.5'"],
        id="seed-float",
    ),
    pytest.param(
        "visualize",
        ["--class", "1", "--batch-size", "0"],
        ["argument --batch-size", "positive integer", "received '0'"],
        id="batch-size-zero",
    ),
    pytest.param(
        "visualize",
        ["--class", "1", "--crops", "0"],
        ["argument --crops", "received '0'"],
        id="crops-zero",
    ),
    pytest.param(
        "visualize",
        ["--class", "1", "--steps", "1e3"],
        ["argument --steps", "received '1e3'"],
        id="steps-scientific",
    ),
    pytest.param(
        "visualize",
        ["--class", "1", "--noise", "-1"],
        ["argument --noise", "non-negative number", "received '-1'"],
        id="noise-negative",
    ),
    pytest.param(
        "visualize",
        ["--class", "1", "--values-range", "nan", "1"],
        ["values_range=[nan, 1.0]", "finite"],
        id="values-range-nan",
    ),
    pytest.param(
        "visualize",
        ["--class", "1", "--prefix", "a/b"],
        ["prefix='a/b'", "without directory separators"],
        id="prefix-with-separator",
    ),
    pytest.param(
        "visualize",
        ["--class", "1", "--model", "{garbage.keras}"],
        ["garbage.keras'", "cannot read"],
        id="model-garbage",
    ),
    pytest.param(
        "visualize",
        ["--class", "1", "--model", "{lambda.keras}"],
        ["lambda.keras'", "arbitrary code execution"],
        id="model-with-python-code",
    ),
    pytest.param(
        "visualize",
        ["--class", "1", "--model", "{notes.txt}"],
        ["notes.txt'", ".keras or .h5"],
        id="model-text-file",
    ),
    pytest.param(
        "visualize",
        ["--class", "1", "--model", "{dense.keras}"],
        ["input shape (None, 10)", "images"],
        id="model-not-for-images",
    ),
    pytest.param(
        "visualize",
        ["--layer", "c", "--model", "{anysize.keras}"],
        ["--model-input-size"],
        id="model-of-unknown-input-size",
    ),
    pytest.param(
        "visualize",
        ["--class", "1", "--out", "/proc"],
        ["out='/proc'", "writable directory"],
        id="out-not-writable",
        marks=pytest.mark.skipif(not HAS_PROC, reason="needs /proc"),
    ),
    pytest.param(
        "visualize",
        ["--class", "1", "--out", "{notes.txt}"],
        ["out='", "notes.txt'", "writable directory"],
        id="out-is-a-file",
    ),
    pytest.param(
        "visualize", ["--steps"], ["argument --steps", "expected one argument"], id="steps-missing"
    ),
    pytest.param(
        "concepts",
        ["--class", "1", "2", "--images", "{folder}"],
        ["one --images folder per --class (2)", "1 folder(s)"],
        id="concepts-folders-per-class",
    ),
    pytest.param(
        "concepts",
        ["--class", "1", "--images", "{folder}/missing", "--out", "{folder}/concepts"],
        ["--images", "missing'"],
        id="concepts-missing-folder",
    ),
    pytest.param(
        "concepts",
        ["--class", "1", "--images", "{folder}", "--rank", "0"],
        ["argument --rank", "received '0'"],
        id="concepts-rank-zero",
    ),
]


@pytest.mark.parametrize(("kind", "arguments", "fragments"), CLI)
def test_the_command_line_prints_one_line_and_exits_2(env, capsys, kind, arguments, fragments):
    code = cli.main(_cli(env, kind, arguments))
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert code == 2, captured.err
    assert captured.out == ""
    assert len(lines) == 1 and lines[0].startswith("xmaco: error: "), captured.err
    assert "Traceback" not in captured.err
    missing = [fragment for fragment in fragments if fragment not in lines[0]]
    assert not missing, f"{missing} not in: {lines[0]}"


def test_the_catalogue_is_large_and_every_row_is_distinct():
    ids = [row.id for row in API] + [f"cli-{row.id}" for row in CLI]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 40


@pytest.mark.parametrize("prefix", ["", "a/b", "."])
def test_a_bad_prefix_is_refused_before_the_run(env, capsys, monkeypatch, prefix):
    """Found by this catalogue: --prefix was checked after the whole run, which was lost;
    '.' put the bundle beside the output directory (out/. is out, so out.npz)."""

    def must_not_run(*args, **kwargs):
        raise AssertionError("the optimisation ran before --prefix was checked")

    monkeypatch.setattr(xmaco, "maco", must_not_run)
    code = cli.main(_cli(env, "visualize", ["--class", "1", "--prefix", prefix]))
    assert code == 2 and "prefix=" in capsys.readouterr().err
