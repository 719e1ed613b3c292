"""The ``xmaco visualize`` command: classes, channels, neurons or a layer of a model, in one
batched run, written as images, transparency maps, overlays and the :class:`xmaco.Result`
bundle.

Parsing imports neither TensorFlow nor the engine; the run imports them.

Example
-------
>>> from xmaco.cli._common import Parser
>>> parser = Parser(prog="xmaco")
>>> _ = add_visualize_command(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["visualize", "--layer", "conv", "--channel", "0", "3"])
>>> args.channels, args.method, args.preset, args.image_size
([0, 3], 'maco', 'fast', 512)
"""

from __future__ import annotations

import argparse
from typing import Any

import xmaco
from xmaco import presets, zoo
from xmaco.cli._common import (
    EMBEDDED,
    FULL_SETTINGS,
    UsageError,
    add_model_option,
    add_output_options,
    add_run_options,
    add_values_range_option,
    finish,
    report_recognitions,
    run,
)
from xmaco.cli._types import fraction, neuron, non_negative, non_negative_int, positive_int, prefix
from xmaco.files import ensure_writable_dir

__all__ = ["DEFAULT_PRESET", "EMBEDDED", "METHODS", "add_visualize_command"]

# The preset of ``xmaco visualize``: the library's default, the best transfer per model
# evaluation measured (docs/benchmarks.md, section 6).
DEFAULT_PRESET = presets.DEFAULT
# Image parameterizations, by the name of their function in xmaco, looked up when the command
# runs (so that parsing does not import the engine).
METHODS = ("fourier", "maco", "pixel")


def add_visualize_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``xmaco visualize`` to ``subparsers`` (what ``parser.add_subparsers()`` returned).

    Returns the subcommand's parser; parsing ``visualize ...`` sets ``handler`` to the function
    that runs it.

    Example
    -------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="xmaco")
    >>> visualize = add_visualize_command(parser.add_subparsers(dest="command"))
    >>> parser.parse_args(["visualize", "--class", "goldfish", "--preset", "reference"]).preset
    'reference'
    """
    parser = subparsers.add_parser(
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
    _add_model_and_units(parser)
    _add_layer_and_input(parser)
    add_output_options(parser, default_out="out")
    parser.add_argument(
        "--prefix",
        type=prefix,
        default="xmaco",
        help="file name prefix of the outputs (default: %(default)s)",
    )
    _add_settings(parser)
    parser.set_defaults(handler=_visualize)
    return parser


def _add_model_and_units(parser: argparse.ArgumentParser) -> None:
    add_model_option(parser)
    target = parser.add_mutually_exclusive_group()
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
        type=neuron,
        metavar="I",
        help=(
            "units of --layer to visualize: a flat index (e.g. a logit) or comma-separated "
            "coordinates such as 3,3,12 (row, column, channel)"
        ),
    )


def _add_layer_and_input(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--layer",
        help=(
            "layer name for --channel and --neuron; alone, visualize the layer's overall "
            "activation; with --class, the layer holding the class scores"
        ),
    )
    add_values_range_option(parser)
    parser.add_argument(
        "--model-input-size",
        nargs=2,
        type=positive_int,
        metavar=("H", "W"),
        help="size the crops are resized to, for a model whose input size is not fixed; "
        "default: the model's input size",
    )


def _add_settings(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--method",
        choices=sorted(METHODS),
        default="maco",
        help=(
            "image parameterization: maco (phase only, natural magnitude), fourier (whole "
            "spectrum) or pixel (default: %(default)s)"
        ),
    )
    parser.add_argument(
        "--preset",
        choices=list(presets.PRESETS),
        default=DEFAULT_PRESET,
        help="steps, crops, crop schedule and learning rate (a decay scales each method's "
        "own rate): "
        + "; ".join(f"{p.name}: {p.summary}" for p in presets.PRESETS.values())
        + " (default: %(default)s; --steps, --crops and --crop-size override its values)",
    )
    add_run_options(
        parser,
        {"image_size": FULL_SETTINGS["image_size"]},
        seed_default=None,
        unset=" (default: the preset's)",
    )
    parser.add_argument(
        "--crop-size",
        type=fraction,
        metavar="F",
        help=(
            "fixed crop side as a fraction of the canvas, in (0, 1]; default: the preset's "
            "schedule, shrinking linearly over the run"
        ),
    )
    parser.add_argument(
        "--noise",
        type=non_negative,
        default=0.08,
        metavar="S",
        help="scale of the noise added to every crop, in half-widths of the value range "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--jit",
        action="store_true",
        help="compile the model's forward and backward pass with XLA (faster on GPUs)",
    )


def _visualize(args: argparse.Namespace) -> int:
    from xmaco.evaluate import recognise
    from xmaco.export import save_result

    if (args.channels or args.neurons) and args.layer is None:
        raise UsageError("expected --layer NAME with --channel and --neuron, received no --layer")
    if not (args.classes or args.channels or args.neurons or args.layer):
        raise UsageError(
            "expected something to visualize: --class, --layer with --channel or --neuron, or "
            "--layer alone"
        )
    classes = [zoo.class_index(c) for c in args.classes] if args.classes else None
    out = ensure_writable_dir(args.out, argument="out")
    # Catalogue classifiers end in their logits, which the class objective wants.
    model = zoo.load(args.model)
    fixed_size = None not in tuple(model.inputs[0].shape)[1:3]
    if not fixed_size and args.model_input_size is None:
        raise UsageError(
            f"expected --model-input-size H W for model '{model.name}', whose input size is "
            f"not fixed (input shape {tuple(model.inputs[0].shape)}), received none"
        )
    objective, labels, judge = _objective(args, model, classes, fixed_size)
    method = getattr(xmaco, args.method)
    outcome = run(method, objective, _settings(args), classes, args.quiet)
    written = save_result(out, outcome.result, prefix=args.prefix)
    if not args.quiet:
        _report_files(outcome.result, written, labels)
        if judge:
            report_recognitions(recognise(model, outcome.result), labels)
    return finish(outcome, written[-2], args.quiet)


def _objective(
    args: argparse.Namespace, model: Any, classes: list[int] | None, fixed_size: bool
) -> tuple[xmaco.Objective, list[str] | None, bool]:
    """The objective; the class labels to print, if any; whether the model judges the run."""
    if classes is None:
        if args.channels:
            return xmaco.Objective.channel(model, args.layer, args.channels), None, False
        if args.neurons:
            return xmaco.Objective.neuron(model, args.layer, args.neurons), None, False
        return xmaco.Objective.layer(model, args.layer), None, False
    layer = args.layer or _class_layer(model)
    objective = xmaco.Objective.neuron(model, layer, classes)
    layer = objective.layers[0]  # a stage alias ("conv5") names the stage's last layer
    labels = None
    if model.get_layer(layer).output.shape[-1] == len(zoo.imagenet_classes()):
        labels = zoo.imagenet_classes()
    # The model can judge the pictures when the classes are its own outputs.
    return objective, labels, layer == model.layers[-1].name and fixed_size


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The keywords of the run, as the command line gives them: what it leaves out is the
    preset's (resolved by :class:`xmaco.settings.RunSettings`, as for the Python API)."""
    given = {
        "preset": args.preset,
        "steps": args.steps,
        "crops": args.crops,
        "image_size": args.image_size,
        "crop_size": args.crop_size,
        "noise": args.noise,
        "values_range": args.values_range,
        "seed": args.seed,
        "batch_size": args.batch_size,
        "jit_compile": args.jit,
        "model_input_size": args.model_input_size,
    }
    return {name: value for name, value in given.items() if value is not None}


def _class_layer(model: Any) -> str:
    names = [layer.name for layer in model.layers]
    return "logits" if "logits" in names else names[-1]


def _report_files(result: xmaco.Result, written: list[Any], labels: list[str] | None) -> None:
    for i, name in enumerate(_titles(result, labels)):
        image, alpha, side_by_side = written[3 * i : 3 * i + 3]
        print(f"{name}: {image}  {alpha}  {side_by_side}")
    print(f"result: {written[-2]}  {written[-1]}")


def _titles(result: xmaco.Result, labels: list[str] | None) -> list[str]:
    if labels is None:
        return list(result.names)
    return [f"{labels[c]} ({c})" for c in result.config["classes"]]
