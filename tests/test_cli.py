"""The ``xmaco`` command: files written, batched classes, one-line errors, Ctrl-C, the demo."""

from __future__ import annotations

import functools
import html.parser
import os
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import cv2
import keras
import pytest

import xmaco
from xmaco import cli, zoo
from xmaco.callbacks import Callback
from xmaco.result import Result

TINY = "--steps 2 --crops 2 --image-size 32 --seed 0"


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory, cnn) -> Path:
    """The conftest CNN (32x32x3 input, 5 logits in layer 'logits') saved as a .keras file."""
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    with warnings.catch_warnings():
        # Keras' saving code calls np.array(x, copy=False) on tensors; not ours to fix.
        warnings.simplefilter("ignore", DeprecationWarning)
        cnn.save(path)
    return path


def run(capsys, command: str) -> tuple[int, str, str]:
    """Run ``xmaco <command>`` in-process (``command`` is split as a shell would)."""
    code = cli.main(shlex.split(command))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_visualize_batches_repeated_classes_and_writes_every_file(capsys, tmp_path, saved_model):
    out = tmp_path / "out"
    code, stdout, stderr = run(
        capsys,
        f"visualize --model {saved_model} --class 1 3 --class goldfish {TINY} --out {out}",
    )
    assert code == 0, stderr
    result = Result.load(out / "xmaco")
    assert len(result) == 3 and result.names == ["logits[1]", "logits[3]", "logits[1]"]
    assert result.config["classes"] == [1, 3, 1]
    assert result.config["steps"] == 2 and result.config["image_size"] == [32, 32]
    assert not result.interrupted
    for i in range(3):
        image = cv2.imread(str(out / f"xmaco_{i:02d}.png"), cv2.IMREAD_UNCHANGED)
        alpha = cv2.imread(str(out / f"xmaco_{i:02d}_alpha.png"), cv2.IMREAD_UNCHANGED)
        side_by_side = cv2.imread(str(out / f"xmaco_{i:02d}_overlay.png"), cv2.IMREAD_UNCHANGED)
        assert image.shape == (32, 32, 3)
        assert alpha.shape == (32, 32, 4) and alpha[..., 3].max() == 255
        assert side_by_side.shape == (32, 64, 3)
        assert str(out / f"xmaco_{i:02d}_alpha.png") in stdout
    assert str(out / "xmaco.npz") in stdout and "top-5:" in stdout


@pytest.mark.parametrize(
    ("target", "names"),
    [
        ("--layer conv2 --channel 0 5", ["conv2:channel 0", "conv2:channel 5"]),
        ("--layer logits --neuron 4", ["logits[4]"]),
        ("--layer conv2 --neuron 3,3,1", ["conv2:neuron (3, 3, 1)"]),
        ("--layer conv1", ["conv1:layer"]),
    ],
)
def test_visualize_channels_neurons_and_layers(capsys, tmp_path, saved_model, target, names):
    code, _, stderr = run(
        capsys,
        f"visualize --model {saved_model} {target} {TINY} --out {tmp_path} --prefix run "
        "--method fourier",
    )
    assert code == 0, stderr
    result = Result.load(tmp_path / "run")
    assert result.names == names and result.config["method"] == "fourier"
    assert "classes" not in result.config


@pytest.mark.parametrize(
    ("options", "steps", "crops", "side", "rate"),
    [
        ("", 2, 16, (0.5, 0.2), "cosine"),  # the default preset, fast, with --steps 2
        ("--preset reference", 2, 32, (0.5, 0.05), "constant"),
        ("--preset fast --crops 3", 2, 3, (0.5, 0.2), "cosine"),
    ],
)
def test_visualize_takes_its_defaults_from_the_preset(
    capsys, tmp_path, saved_model, options, steps, crops, side, rate
):
    code, _, stderr = run(
        capsys,
        f"visualize --model {saved_model} --class 1 --steps 2 --image-size 32 --seed 0 "
        f"--out {tmp_path} {options}",
    )
    assert code == 0, stderr
    config = Result.load(tmp_path / "xmaco").config
    assert config["preset"] == (options.split()[1] if options else cli.DEFAULT_PRESET)
    assert (config["steps"], config["crops"]) == (steps, crops)
    crop_size = config["crop_size"]
    assert (crop_size["start"], crop_size["end"], crop_size["steps"]) == (*side, steps)
    assert config["learning_rate"]["schedule"] == rate


def test_a_model_of_any_input_size_needs_model_input_size(capsys, tmp_path):
    inputs = keras.Input((None, None, 3))
    features = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    path = tmp_path / "anysize.keras"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        keras.Model(inputs, keras.layers.Dense(3, name="logits")(pooled)).save(path)
    command = f"visualize --model {path} --class 1 {TINY} --out {tmp_path}"
    code, _, stderr = run(capsys, command)
    assert code == 2 and "expected --model-input-size H W" in stderr
    code, stdout, stderr = run(capsys, command + " --model-input-size 16 16")
    assert code == 0, stderr
    assert Result.load(tmp_path / "xmaco").config["model_input_size"] == [16, 16]
    assert "top-5" not in stdout  # the model cannot judge the canvas without a fixed input


def test_quiet_prints_nothing(capsys, tmp_path, saved_model):
    code, stdout, stderr = run(
        capsys, f"visualize --model {saved_model} --class 2 {TINY} --out {tmp_path} --quiet"
    )
    assert (code, stdout, stderr) == (0, "", "")
    assert (tmp_path / "xmaco_00_overlay.png").is_file()


@pytest.mark.parametrize("quiet", [False, True])
def test_warnings_are_one_line_and_quiet_silences_them(
    capsys, tmp_path, saved_model, monkeypatch, quiet
):
    maco = xmaco.maco

    def warn_then_run(*args, **kwargs):
        warnings.warn("The gradient is zero\n  for unit 0.", RuntimeWarning, stacklevel=1)
        return maco(*args, **kwargs)

    monkeypatch.setattr(xmaco, "maco", warn_then_run)
    code, _, stderr = run(
        capsys,
        f"visualize --model {saved_model} --class 0 {TINY} --out {tmp_path}"
        + (" --quiet" if quiet else ""),
    )
    assert code == 0
    assert stderr == ("" if quiet else "xmaco: warning: The gradient is zero for unit 0.\n")


def test_ctrl_c_saves_the_partial_result_and_exits_130(capsys, tmp_path, saved_model, monkeypatch):
    class CtrlC(Callback):
        def on_step_end(self, step, logs):
            if step == 2:
                raise KeyboardInterrupt  # as Ctrl-C would, after the third step

    monkeypatch.setattr(xmaco, "maco", functools.partial(xmaco.maco, callbacks=[CtrlC()]))
    code, _, stderr = run(
        capsys,
        f"visualize --model {saved_model} --class 0 --steps 50 --crops 1 --image-size 16 "
        f"--out {tmp_path}",
    )
    assert code == 130
    assert "interrupted after 3 of 50 steps" in stderr and "Traceback" not in stderr
    result = Result.load(tmp_path / "xmaco")
    assert result.interrupted and result.history.shape == (3, 1)


def test_ctrl_c_before_the_run_exits_130(capsys, tmp_path, monkeypatch):
    def interrupted(spec):
        raise KeyboardInterrupt

    monkeypatch.setattr(zoo, "load", interrupted)
    code, _, stderr = run(capsys, f"visualize --class 1 --out {tmp_path}")
    assert (code, stderr) == (130, "xmaco: interrupted\n")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ("--class 'great white shak'", "Close matches: 'great white shark'"),
        ("--layer conv3 --channel 0", "Close matches: 'conv2', 'conv1'"),
        ("--layer conv2 --channel 16", "channel"),
        ("--class 1 --model {tmp}/missing.keras", "no such file"),
        ("--class 1 --model resnet5", "Close matches: 'resnet50"),
        ("--class 1 --steps 0", "argument --steps: expected a positive integer"),
        ("--class 1 --steps many", "received 'many'"),
        ("--class 1 --image-size 3", "image_size"),
        ("--class 1 --crop-size 1.5", "argument --crop-size"),
        ("--class 1 --noise nan", "argument --noise"),
        ("--class 1 --values-range 1 0", "values_range"),
        ("--class 1 --out {tmp}/a-file/out", "Expected out to be a writable directory"),
        ("--channel 0", "expected --layer NAME"),
        ("", "expected something to visualize"),
        ("--class 1 --channel 0", "not allowed with argument"),
        ("--method cppn --class 1", "invalid choice"),
        ("--class 1 --prefix a/b", "argument --prefix: expected a file name prefix"),
        ("--class 1 --prefix ''", "received prefix=''"),
        ("--class 1 --preset fats", "argument --preset: invalid choice: 'fats'"),
    ],
)
def test_errors_are_one_line_and_exit_2(capsys, tmp_path, saved_model, arguments, expected):
    (tmp_path / "a-file").write_text("a regular file, not a directory")
    # The defaults come first: the last occurrence of an option wins.
    code, stdout, stderr = run(
        capsys,
        f"visualize --model {saved_model} --out {tmp_path}/out {TINY} "
        + arguments.format(tmp=tmp_path),
    )
    assert code == 2
    assert stdout == ""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("xmaco: error: ") and expected in lines[0]


def test_unknown_command_and_help(capsys):
    code, _, stderr = run(capsys, "paint")
    assert code == 2 and stderr.count("\n") == 1 and "invalid choice: 'paint'" in stderr
    code, stdout, _ = run(capsys, "visualize --help")
    assert code == 0 and "--class CLASS [CLASS ...]" in stdout
    assert run(capsys, "--version") == (0, f"xmaco {xmaco.__version__}\n", "")


def test_every_option_and_subcommand_has_help():
    parser = cli.build_parser()
    assert parser.description
    (commands,) = [a for a in parser._actions if a.dest == "command"]
    assert set(commands.choices) == {"visualize", "demo", "concepts", "gallery", "evaluate"}
    for name, sub in commands.choices.items():
        assert sub.description, name
        for action in sub._actions:
            assert action.help, f"{name} {action.option_strings}"
    assert all(choice.help for choice in commands._choices_actions)


def test_help_and_argument_errors_import_neither_tensorflow_nor_keras():
    """``xmaco --help`` answers at once: parsing loads no framework, only the run does."""
    code = (
        "import contextlib, io, sys\n"
        "from xmaco.cli import main\n"
        "for command in ('', 'visualize', 'demo', 'concepts', 'gallery', 'evaluate'):\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        assert main([*command.split(), '--help']) == 0, command\n"
        "for error in ('visualize --steps -1', 'gallery --shard 9/4 --out site', 'evaluate'):\n"
        "    assert main(error.split()) == 2, error\n"
        "print(sorted({name.split('.')[0] for name in sys.modules} & {'tensorflow', 'keras'}))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout == "[]\n"
    assert completed.stderr.count("xmaco: error: ") == 3


def test_the_installed_command_reports_errors_in_one_line(tmp_path):
    script = Path(sys.executable).with_name("xmaco")
    # `make test` installs the console script into the venv; `python -m xmaco.cli` elsewhere.
    command = [str(script)] if script.exists() else [sys.executable, "-m", "xmaco.cli"]
    completed = subprocess.run(
        [*command, "visualize", "--class", "goldfsh", "--out", tmp_path],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=120,
    )
    assert completed.returncode == 2
    assert completed.stderr.splitlines() == [
        "xmaco: error: Expected class to be an ImageNet class index (0-999) or name. "
        "Received: class='goldfsh'. Close matches: 'goldfish', 'goldfinch'"
    ]


def test_visualize_a_class_of_the_embedded_model(capsys, tmp_path):
    code, stdout, stderr = run(
        capsys,
        "visualize --class 'great white shark' --steps 2 --crops 2 --image-size 64 --seed 0 "
        f"--out {tmp_path}",
    )
    assert code == 0, stderr
    result = Result.load(tmp_path / "xmaco")
    assert result.config["classes"] == [2] and result.config["model"] == "efficientnet_lite0"
    assert result.config["values_range"] == [-1.0, 1.0]
    assert "great white shark (2):" in stdout


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.links += [value for name, value in attrs if name in ("href", "src")]


def test_demo_writes_a_contact_sheet_with_working_links(capsys, tmp_path):
    code, stdout, stderr = run(
        capsys,
        f"demo --steps 2 --crops 2 --image-size 64 --crop-side 0.4 0.3 --out {tmp_path}",
    )
    assert code == 0, stderr
    page = (tmp_path / "index.html").read_text(encoding="utf-8")
    names = [zoo.imagenet_classes()[c] for c in cli.DEMO_CLASSES]
    assert all(f"{name} ({c})" in page for name, c in zip(names, cli.DEMO_CLASSES, strict=True))
    assert "2 of 2" in page and "64x64" in page and "top-5" in page
    assert "linear 0.4 \u2192 0.3 of the canvas side over 2 steps" in page
    parser = _Links()
    parser.feed(page)
    assert len(parser.links) >= 4 * len(names)
    for link in parser.links:
        assert "/" not in link and (tmp_path / link).is_file(), link
    assert "<link" not in page and "<script" not in page
    result = Result.load(tmp_path / "demo")
    assert result.config["classes"] == list(cli.DEMO_CLASSES) and len(result) == 5
    assert f"Contact sheet: {tmp_path / 'index.html'}" in stdout
    assert cv2.imread(str(tmp_path / "demo_grid.png")) is not None
