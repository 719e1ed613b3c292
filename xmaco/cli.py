"""The ``xmaco`` command: visualize what a model's classes, channels and neurons respond to.

``xmaco visualize`` runs one batched optimisation (MACO by default) on a model from
:mod:`xmaco.zoo` or a saved Keras file and writes, per visualization, the image, the image with
its transparency as alpha channel, an image|overlay PNG, and the :class:`xmaco.Result` bundle.
``xmaco demo`` does that for five ImageNet classes on the embedded EfficientNet-Lite0 and adds
an ``index.html`` contact sheet with what the model recognises in each picture.
``xmaco concepts`` (:mod:`xmaco.concepts_cli`) finds and visualizes the concepts of classes;
``xmaco gallery`` (:mod:`xmaco.gallery.cli`) renders many units into a browsable site;
``xmaco evaluate`` (:mod:`xmaco.evaluate_cli`) asks other networks whether they recognise the
class in pictures.

Every error ends in one line ``xmaco: error: ...`` on stderr and exit status 2; Ctrl-C saves
the partial result and exits with 130.

Example
-------
>>> from xmaco.cli import build_parser
>>> args = build_parser().parse_args(["visualize", "--class", "goldfish", "2", "--steps", "64"])
>>> args.classes, args.steps, args.model
(['goldfish', '2'], 64, 'efficientnet_lite0')
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import io
import json
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import xmaco
from xmaco import presets, schedules, zoo
from xmaco._cli_types import non_negative_int, positive_int
from xmaco._startup import list_devices
from xmaco.concepts_cli import add_concepts_command
from xmaco.errors import NonFiniteError, OutOfMemoryError
from xmaco.evaluate import Recognition, recognise
from xmaco.evaluate_cli import add_evaluate_command
from xmaco.export import save_result
from xmaco.files import atomic_write, ensure_writable_dir
from xmaco.gallery.cli import add_gallery_command

__all__ = [
    "DEMO_CLASSES",
    "DEMO_CROP_SIDE",
    "DEMO_SETTINGS",
    "FULL_SETTINGS",
    "build_parser",
    "main",
]

EMBEDDED = "efficientnet_lite0"
# Five ImageNet classes with distinctive colours and textures, which MACO renders recognisably.
DEMO_CLASSES = (1, 84, 130, 327, 949)
# Sized to finish in about three minutes on a 2-core CPU (see README, "Settings and timings").
DEMO_SETTINGS = {"steps": 128, "crops": 6, "image_size": 256}
# The preset of ``xmaco visualize``: half the model evaluations of the reference, for pictures
# as recognisable (docs/benchmarks.md, section 5).
DEFAULT_PRESET = "fast"
# The MACO reference setting (Xplique's defaults): the reference preset on a 512 canvas.
FULL_SETTINGS = {
    "steps": presets.PRESETS["reference"].steps,
    "crops": presets.PRESETS["reference"].crops,
    "image_size": 512,
}
DEMO_SEED = 0
# The crops shrink from half the canvas side to a fifth, not to 0.05 as in the reference: the
# last steps then refine whole objects, at the scale the contact sheet judges them (the central
# half), rather than small details. At the reference steps, crops and canvas (--full), 0.5 ->
# 0.2 gave 5 of 5 top-1 on the central half and 0.5 -> 0.05 gave 3 of 5 (README, "Settings
# and timings").
DEMO_CROP_SIDE = (0.5, 0.2)

_METHODS = {"maco": xmaco.maco, "fourier": xmaco.fourier, "pixel": xmaco.pixel}
_EXIT_ERROR = 2
_EXIT_FAILED = 1
_EXIT_INTERRUPTED = 130


class _UsageError(Exception):
    """A command line that cannot be run; its message becomes the one error line."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, raised instead of printed with usage."""

    def error(self, message: str) -> Any:
        raise _UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    """The parser of the ``xmaco`` command and its subcommands.

    Returns
    -------
    argparse.ArgumentParser
        Parsing gives a namespace with the subcommand's name in ``command`` and its function
        in ``handler``.

    Example
    -------
    >>> args = build_parser().parse_args(["demo", "--full"])
    >>> args.command, args.full, args.out
    ('demo', True, 'demo-out')
    """
    parser = _Parser(
        prog="xmaco",
        description=(
            "Feature visualization with MACO (magnitude-constrained optimisation): optimise the "
            "phase of an image's spectrum, keeping a natural magnitude, until a model's class, "
            "channel or neuron responds most; write the images, their transparency maps "
            "(where the model looked) and the run's full record."
        ),
    )
    parser.add_argument("--version", action="version", version=f"xmaco {xmaco.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    visualize = commands.add_parser(
        "visualize",
        help="visualize classes, channels or neurons of a model in one batched run",
        description=(
            "Visualize what one or more units of a model respond to, in one batched run. Give "
            "classes (--class), channels (--layer L --channel K ...), neurons (--layer L "
            "--neuron I ...) or a whole layer (--layer L alone). Writes, per visualization, "
            "PREFIX_NN.png (the image), PREFIX_NN_alpha.png (transparency as alpha channel), "
            "PREFIX_NN_overlay.png (image | overlay) and the bundle PREFIX.npz + PREFIX.json "
            "(xmaco.Result.load reads it back)."
        ),
    )
    visualize.add_argument(
        "--model",
        default=EMBEDDED,
        help=(
            "a name from xmaco.zoo.available() (default: %(default)s, embedded, no download), "
            "e.g. resnet50v2, or the path of a .keras or .h5 file"
        ),
    )
    target = visualize.add_mutually_exclusive_group()
    target.add_argument(
        "--class",
        dest="classes",
        nargs="+",
        action="extend",
        metavar="CLASS",
        help=(
            "ImageNet class names or indices (0-999), e.g. --class 1 'great white shark'; "
            "may be repeated; all classes are visualized together. Reads the layer 'logits' "
            "(or --layer, or the model's last layer)"
        ),
    )
    target.add_argument(
        "--channel",
        dest="channels",
        nargs="+",
        action="extend",
        type=non_negative_int,
        metavar="K",
        help="channel indices of --layer (last axis) to visualize, one visualization each",
    )
    target.add_argument(
        "--neuron",
        dest="neurons",
        nargs="+",
        action="extend",
        type=_neuron,
        metavar="I",
        help=(
            "units of --layer to visualize: a flat index (e.g. a logit) or comma-separated "
            "coordinates such as 3,3,12 (row, column, channel)"
        ),
    )
    visualize.add_argument(
        "--layer",
        help=(
            "layer name for --channel and --neuron; alone, visualize the layer's overall "
            "activation; with --class, the layer holding the class scores"
        ),
    )
    visualize.add_argument(
        "--values-range",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        help=(
            "range of the model's input values; default: the range recorded on catalogue "
            "models, else 0 1"
        ),
    )
    visualize.add_argument(
        "--model-input-size",
        nargs=2,
        type=positive_int,
        metavar=("H", "W"),
        help="size the crops are resized to, for a model whose input size is not fixed; "
        "default: the model's input size",
    )
    _add_output_options(visualize, default_out="out")
    visualize.add_argument(
        "--prefix",
        type=_prefix,
        default="xmaco",
        help="file name prefix of the outputs (default: %(default)s)",
    )
    visualize.add_argument(
        "--method",
        choices=sorted(_METHODS),
        default="maco",
        help=(
            "image parameterization: maco (phase only, natural magnitude), fourier (whole "
            "spectrum) or pixel (default: %(default)s)"
        ),
    )
    visualize.add_argument(
        "--preset",
        choices=list(presets.PRESETS),
        default=DEFAULT_PRESET,
        help="steps, crops, crop schedule and learning rate (the learning rate for --method "
        "maco only): "
        + "; ".join(f"{p.name}: {p.summary}" for p in presets.PRESETS.values())
        + " (default: %(default)s; --steps, --crops and --crop-size override its values)",
    )
    _add_run_options(
        visualize,
        {"image_size": FULL_SETTINGS["image_size"]},
        seed_default=None,
        unset=" (default: the preset's)",
    )
    visualize.add_argument(
        "--crop-size",
        type=_fraction,
        metavar="F",
        help=(
            "fixed crop side as a fraction of the canvas, in (0, 1]; default: the preset's "
            "schedule, shrinking linearly over the run"
        ),
    )
    visualize.add_argument(
        "--noise",
        type=_non_negative,
        default=0.08,
        metavar="S",
        help="scale of the noise added to every crop, in half-widths of the value range "
        "(default: %(default)s)",
    )
    visualize.add_argument(
        "--jit", action="store_true", help="compile the whole step with XLA (faster on GPUs)"
    )
    visualize.set_defaults(handler=_visualize)

    demo = commands.add_parser(
        "demo",
        help="the main job on the embedded model: five ImageNet classes and a contact sheet",
        description=(
            "Visualize five well-known ImageNet classes ("
            + ", ".join(f"{zoo.imagenet_classes()[c]} {c}" for c in DEMO_CLASSES)
            + ") with MACO on the embedded EfficientNet-Lite0, in one batched run, and write "
            "their images, transparency maps and overlays, a picture of all five and an "
            "index.html contact sheet showing what the model recognises in the central half of "
            "each visualization. The default settings ("
            + _settings_text(DEMO_SETTINGS)
            + ") take about three minutes on an idle 2-core CPU; --full uses the steps, crops "
            "and canvas of the MACO reference ("
            + _settings_text(FULL_SETTINGS)
            + "). Both shrink the crops to a fifth of the canvas side (--crop-side)."
        ),
    )
    _add_output_options(demo, default_out="demo-out")
    demo.add_argument(
        "--full",
        action="store_true",
        help=f"use the reference steps, crops and canvas ({_settings_text(FULL_SETTINGS)}); "
        "about 20 minutes on an idle 2-core CPU",
    )
    _add_run_options(demo, None, seed_default=DEMO_SEED)
    demo.add_argument(
        "--crop-side",
        nargs=2,
        type=_fraction,
        default=DEMO_CROP_SIDE,
        metavar=("START", "END"),
        help="crop side as a fraction of the canvas side, shrinking linearly from START to END "
        "over the run (default: %(default)s; the MACO reference shrinks to 0.05)",
    )
    demo.set_defaults(handler=_demo)
    add_concepts_command(commands)
    add_gallery_command(commands)
    add_evaluate_command(commands)
    return parser


def _add_output_options(parser: argparse.ArgumentParser, default_out: str) -> None:
    parser.add_argument(
        "--out",
        default=default_out,
        metavar="DIR",
        help="directory to write into, created if needed (default: %(default)s)",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="print nothing but errors (no progress bar, no list of written files)",
    )


def _add_run_options(
    parser: argparse.ArgumentParser,
    defaults: dict[str, int] | None,
    seed_default: int | None,
    unset: str = " (default: demo setting, or the reference with --full)",
) -> None:
    """--steps, --crops, --image-size, --seed, --batch-size; those missing from ``defaults``
    are left unset (None), for the command to fill in; ``unset`` says how, in their help."""
    defaults = defaults or {}
    parser.add_argument(
        "--steps",
        type=positive_int,
        default=defaults.get("steps"),
        metavar="N",
        help="optimisation steps" + _default_text(defaults.get("steps"), unset),
    )
    parser.add_argument(
        "--crops",
        type=positive_int,
        default=defaults.get("crops"),
        metavar="N",
        help="random crops per step and visualization, each resized to the model input"
        + _default_text(defaults.get("crops"), unset),
    )
    parser.add_argument(
        "--image-size",
        type=positive_int,
        default=defaults.get("image_size"),
        metavar="PX",
        help="side of the square canvas in pixels"
        + _default_text(defaults.get("image_size"), unset),
    )
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        default=seed_default,
        metavar="N",
        help="base seed; visualization i uses seed + i"
        + (
            " (default: drawn at random, recorded)"
            if seed_default is None
            else " (default: %(default)s)"
        ),
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="N",
        help="images per model call (micro-batches bound the memory; same result); default: "
        "chosen for the device (4 on CPU, two at a time; all crops of a step on GPU)",
    )


def _default_text(value: int | None, unset: str) -> str:
    return unset if value is None else f" (default: {value})"


def _settings_text(settings: dict[str, int]) -> str:
    return (
        f"{settings['steps']} steps, {settings['crops']} crops, "
        f"{settings['image_size']}x{settings['image_size']} canvas"
    )


def _number(text: str, expected: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected {expected}, received {text!r}")
    return value


def _fraction(text: str) -> float:
    value = _number(text, "a number in (0, 1]")
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], received {text!r}")
    return value


def _non_negative(text: str) -> float:
    value = _number(text, "a non-negative number")
    if value < 0.0:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, received {text!r}")
    return value


def _prefix(text: str) -> str:
    # Checked here, not by the export after the whole run.
    if text in ("", ".", "..") or any(separator in text for separator in "/\\"):
        raise argparse.ArgumentTypeError(
            f"expected a file name prefix without directory separators, received prefix={text!r}"
        )
    return text


def _neuron(text: str) -> int | tuple[int, ...]:
    parts = text.split(",")
    try:
        coordinates = tuple(int(part) for part in parts)
    except ValueError:
        coordinates = (-1,)
    if any(c < 0 for c in coordinates):
        raise argparse.ArgumentTypeError(
            f"expected a non-negative index or comma-separated coordinates such as 3,3,12, "
            f"received {text!r}"
        )
    return coordinates[0] if len(coordinates) == 1 else coordinates


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``xmaco`` command line.

    Parameters
    ----------
    argv
        The arguments after the program name; None reads ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 2 for an error (one line ``xmaco: error: ...`` on stderr), 1 when the
        run failed part way (non-finite values, out of memory; the partial result is saved),
        130 when interrupted with Ctrl-C (the partial result is saved).

    Example
    -------
    >>> main(["visualize", "--steps", "0"])
    2
    """
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            args = build_parser().parse_args(argv)
            if args.quiet:
                warnings.simplefilter("ignore")
            list_devices()
            return args.handler(args)
        except SystemExit as exit_:
            # --help and --version print, then exit through argparse.
            return exit_.code if isinstance(exit_.code, int) else 0
        except KeyboardInterrupt:
            print("xmaco: interrupted", file=sys.stderr)
            return _EXIT_INTERRUPTED
        except (_UsageError, ValueError, TypeError, OSError, ImportError) as error:
            _print_error(error)
            return _EXIT_ERROR


def _show_warning(message: Any, category: type, *_: Any, **__: Any) -> None:
    """Warnings (e.g. a unit whose gradient is zero) as one line each, without source code."""
    print(f"xmaco: warning: {' '.join(str(message).split())}", file=sys.stderr)


def _print_error(error: BaseException) -> None:
    message = " ".join(str(error).split()) or type(error).__name__
    print(f"xmaco: error: {message}", file=sys.stderr)


def _visualize(args: argparse.Namespace) -> int:
    if (args.channels or args.neurons) and args.layer is None:
        raise _UsageError("expected --layer NAME with --channel and --neuron, received no --layer")
    if not (args.classes or args.channels or args.neurons or args.layer):
        raise _UsageError(
            "expected something to visualize: --class, --layer with --channel or --neuron, or "
            "--layer alone"
        )
    classes = [zoo.class_index(c) for c in args.classes] if args.classes else None
    out = ensure_writable_dir(args.out, argument="out")
    model = _load(args.model)
    fixed_size = None not in tuple(model.inputs[0].shape)[1:3]
    if not fixed_size and args.model_input_size is None:
        raise _UsageError(
            f"expected --model-input-size H W for model '{model.name}', whose input size is "
            f"not fixed (input shape {tuple(model.inputs[0].shape)}), received none"
        )
    labels, judge = None, False
    if classes is not None:
        layer = args.layer or _class_layer(model)
        objective = xmaco.Objective.neuron(model, layer, classes)
        layer = objective.layers[0]  # a stage alias ("conv5") names the stage's last layer
        if model.get_layer(layer).output.shape[-1] == len(zoo.imagenet_classes()):
            labels = zoo.imagenet_classes()
        # The model can judge the pictures when the classes are its own outputs.
        judge = layer == model.layers[-1].name and fixed_size
    elif args.channels:
        objective = xmaco.Objective.channel(model, args.layer, args.channels)
    elif args.neurons:
        objective = xmaco.Objective.neuron(model, args.layer, args.neurons)
    else:
        objective = xmaco.Objective.layer(model, args.layer)
    preset = presets.get(args.preset)
    steps, crops, crop_size = preset.apply(
        args.steps, presets.FROM_PRESET if args.crops is None else args.crops, args.crop_size
    )
    settings = {
        "steps": steps,
        "crops": crops,
        "image_size": args.image_size,
        "crop_size": crop_size,
        "noise": args.noise,
        "values_range": args.values_range,
        "seed": args.seed,
        "batch_size": args.batch_size,
        "jit_compile": args.jit,
        "model_input_size": args.model_input_size,
    }
    if args.method == "maco":
        settings["preset"] = preset.name
    outcome = _run(_METHODS[args.method], objective, settings, classes, args.quiet)
    written = save_result(out, outcome.result, prefix=args.prefix)
    if not args.quiet:
        _report_files(outcome.result, written, labels)
        if judge:
            _report_recognitions(recognise(model, outcome.result), labels)
    return _finish(outcome, written[-2], args.quiet)


def _class_layer(model: Any) -> str:
    names = [layer.name for layer in model.layers]
    return "logits" if "logits" in names else names[-1]


def _load(spec: str) -> Any:
    # Catalogue classifiers end in their logits, which the class objective wants.
    return zoo.load(spec)


@dataclasses.dataclass(frozen=True)
class _Outcome:
    result: xmaco.Result
    failure: BaseException | None
    seconds: float


def _run(
    method: Any,
    objective: xmaco.Objective,
    settings: dict[str, Any],
    classes: list[int] | None,
    quiet: bool,
) -> _Outcome:
    """Run the engine; a failure part way still yields the partial result, to be saved."""
    start = time.perf_counter()
    failure = None
    try:
        result = method(objective, verbose=False if quiet else None, **settings)
    except (NonFiniteError, OutOfMemoryError) as error:
        result, failure = error.result, error
    if classes is not None:
        result = dataclasses.replace(result, config={**result.config, "classes": classes})
    return _Outcome(result, failure, time.perf_counter() - start)


def _finish(outcome: _Outcome, bundle: Path, quiet: bool) -> int:
    result = outcome.result
    if outcome.failure is not None:
        _print_error(outcome.failure)
        print(f"xmaco: the partial result is saved in {bundle}", file=sys.stderr)
        return _EXIT_FAILED
    if result.interrupted:
        done = result.stats.get("steps_done", len(result.history))
        print(
            f"xmaco: interrupted after {done} of {result.config['steps']} steps; the partial "
            f"result is saved in {bundle}",
            file=sys.stderr,
        )
        return _EXIT_INTERRUPTED
    if not quiet:
        print(
            f"{len(result)} visualization(s), {result.config['steps']} steps in "
            f"{_duration(outcome.seconds)} ({result.stats.get('steps_per_second', 0.0):.2f} "
            "steps/s)"
        )
    return 0


def _report_files(result: xmaco.Result, written: list[Path], labels: list[str] | None) -> None:
    for i, name in enumerate(_titles(result, labels)):
        image, alpha, side_by_side = written[3 * i : 3 * i + 3]
        print(f"{name}: {image}  {alpha}  {side_by_side}")
    print(f"result: {written[-2]}  {written[-1]}")


def _titles(result: xmaco.Result, labels: list[str] | None) -> list[str]:
    if labels is None:
        return list(result.names)
    return [f"{labels[c]} ({c})" for c in result.config["classes"]]


def _report_recognitions(recognitions: list[Recognition], labels: list[str] | None) -> None:
    def label(index: int) -> str:
        return f"class {index}" if labels is None else f"{labels[index]} ({index})"

    # Self-recognition: the maker judging its own pictures; `xmaco evaluate` asks other networks.
    print(
        "Self-recognition, what the model that made them sees in the central half of each "
        "visualization (for other networks' verdict: xmaco evaluate):"
    )
    for found in recognitions:
        top5 = ", ".join(
            f"{label(c)} {p:.0%}" for c, p in zip(found.top, found.probabilities, strict=True)
        )
        verdict = "top-1" if found.top1 else f"rank {found.target_rank}"
        print(
            f"  {label(found.target)}: {verdict}, p={found.target_probability:.2f}; top-5: {top5}"
        )


def _demo(args: argparse.Namespace) -> int:
    reference = FULL_SETTINGS if args.full else DEMO_SETTINGS
    settings = {
        key: reference[key] if getattr(args, key) is None else getattr(args, key)
        for key in ("steps", "crops", "image_size")
    }
    start_side, end_side = args.crop_side
    out = ensure_writable_dir(args.out, argument="out")
    start = time.perf_counter()
    model = zoo.efficientnet_lite0()
    objective = xmaco.Objective.neuron(model, "logits", list(DEMO_CLASSES))
    if not args.quiet:
        print(
            f"Visualizing {len(DEMO_CLASSES)} ImageNet classes with MACO on {EMBEDDED} ("
            f"{_settings_text(settings)}, crop side {start_side:g} to {end_side:g} of the "
            f"canvas, seed {args.seed})",
            file=sys.stderr,
        )
    outcome = _run(
        xmaco.maco,
        objective,
        {
            **settings,
            "crop_size": schedules.linear(start_side, end_side, settings["steps"]),
            "seed": args.seed,
            "batch_size": args.batch_size,
        },
        list(DEMO_CLASSES),
        args.quiet,
    )
    written = save_result(out, outcome.result, prefix="demo")
    recognitions = recognise(model, outcome.result)
    picture = _save_grid(out / "demo_grid.png", outcome.result)
    sheet = _contact_sheet(
        out / "index.html",
        outcome.result,
        written,
        picture,
        recognitions,
        outcome.seconds,
        time.perf_counter() - start,
    )
    if not args.quiet:
        _report_recognitions(recognitions, zoo.imagenet_classes())
        hits = sum(found.top1 for found in recognitions)
        print(f"Top-1 on the central half: {hits} of {len(recognitions)} classes")
        print(f"Contact sheet: {sheet}")
        print(f"Picture of all five: {picture}")
    return _finish(outcome, written[-2], args.quiet)


def _save_grid(path: Path, result: xmaco.Result) -> Path:
    import matplotlib.pyplot as plt

    figure = xmaco.plot.grid(result, cols=len(result), size=2.2)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=72)  # about 800 px wide, 250 KB
    plt.close(figure)
    with atomic_write(path) as handle:
        handle.write(buffer.getvalue())
    return path


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; background: #fafafa; }
h1 { font-size: 1.4rem; }
table.settings { border-collapse: collapse; margin-bottom: 1.5rem; }
table.settings td { padding: 0.15rem 0.8rem 0.15rem 0; vertical-align: top; }
table.settings td:first-child { color: #666; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 1rem; }
.card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 0.8rem; }
.card h2 { font-size: 1.05rem; margin: 0 0 0.5rem; }
.card img { width: 100%; image-rendering: auto; }
.alpha { background: repeating-conic-gradient(#ccc 0% 25%, #eee 0% 50%) 0 0 / 16px 16px; }
.hit { color: #176b2c; font-weight: 600; }
.miss { color: #a33; font-weight: 600; }
ol { margin: 0.3rem 0 0.5rem 1.2rem; padding: 0; }
.files a { margin-right: 0.8rem; }
"""


def _contact_sheet(
    path: Path,
    result: xmaco.Result,
    written: list[Path],
    picture: Path,
    recognitions: list[Recognition],
    run_seconds: float,
    total_seconds: float,
) -> Path:
    """Write a self-contained HTML page (inline CSS, images linked relatively)."""
    labels = zoo.imagenet_classes()
    config = result.config
    model = config["model"]
    hits = sum(found.top1 for found in recognitions)
    rows = {
        "model": f"{model} (input {config['model_input_size'][0]}x"
        f"{config['model_input_size'][1]}, values {config['values_range']})",
        "method": f"{config['method']}, {config['optimizer']}",
        "steps": f"{len(result.history)} of {config['steps']}"
        + (" (interrupted)" if result.interrupted else ""),
        "crops per step": f"{config['crops']} per class, resized to the model input",
        "canvas": f"{config['image_size'][0]}x{config['image_size'][1]}",
        "crop side": _schedule_text(config["crop_size"], " of the canvas side"),
        "noise": _schedule_text(config["noise"]),
        "learning rate": _schedule_text(config["learning_rate"]),
        "seed": str(config["seed"]),
        "time": f"optimisation {_duration(run_seconds)} "
        f"({result.stats.get('steps_per_second', 0.0):.2f} steps/s), whole demo "
        f"{_duration(total_seconds)}, on {os.cpu_count()} CPU core(s)",
        "evaluation": "the model classifies the central half of each canvas (a square of half "
        f"its side) resized to its input; the target is top-1 for {hits} of "
        f"{len(recognitions)} classes",
    }
    settings = "\n".join(
        f"<tr><td>{html.escape(key)}</td><td>{html.escape(value)}</td></tr>"
        for key, value in rows.items()
    )
    cards = []
    for i, found in enumerate(recognitions):
        image, alpha, side_by_side = written[3 * i : 3 * i + 3]
        verdict = (
            '<span class="hit">top-1</span>'
            if found.top1
            else f'<span class="{"hit" if found.top5 else "miss"}">rank {found.target_rank}</span>'
        )
        top = "".join(
            f"<li>{html.escape(labels[c])} ({c}): {p:.1%}</li>"
            for c, p in zip(found.top, found.probabilities, strict=True)
        )
        cards.append(
            f"""<div class="card">
<h2>{html.escape(labels[found.target])} ({found.target})</h2>
<img src="{_href(side_by_side)}" alt="{html.escape(labels[found.target])}: image and overlay">
<p>Target {verdict}, probability {found.target_probability:.1%}. Model's top-5:</p>
<ol>{top}</ol>
<p class="files"><a href="{_href(image)}">image</a>
<a href="{_href(alpha)}" class="alpha">with transparency</a>
<a href="{_href(side_by_side)}">image | overlay</a></p>
</div>"""
        )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>xmaco demo: {len(recognitions)} ImageNet classes with MACO</title>
<style>{_CSS}</style>
</head>
<body>
<h1>xmaco demo: {len(recognitions)} ImageNet classes with MACO on {html.escape(model)}</h1>
<p><a href="{_href(picture)}">All in one picture</a> &middot;
<a href="{_href(written[-2])}">Result arrays</a> &middot;
<a href="{_href(written[-1])}">Result configuration</a></p>
<table class="settings">
{settings}
</table>
<p>Each picture: the visualization (left) and the same with its transparency map as alpha
over white (right): what stays visible is where the model looked.</p>
<div class="cards">
{"".join(cards)}
</div>
</body>
</html>
"""
    with atomic_write(path, "w") as handle:
        handle.write(page)
    return path


def _schedule_text(description: Any, unit: str = "") -> str:
    """``{"schedule": "linear", "start": 0.5, ...}`` as ``linear 0.5 -> 0.05 over 128 steps``."""
    if isinstance(description, dict) and description.get("schedule") == "constant":
        return f"{description['value']:g}{unit}"
    if isinstance(description, dict) and {"start", "end", "steps"} <= description.keys():
        return (
            f"{description['schedule']} {description['start']:g} \u2192 {description['end']:g}"
            f"{unit} over {description['steps']} steps"
        )
    return json.dumps(description)


def _href(path: Path) -> str:
    return quote(path.name)


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{seconds:.1f}s"


if __name__ == "__main__":
    raise SystemExit(main())
