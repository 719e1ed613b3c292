"""What the ``xmaco`` commands share: the one-line errors, the model, value-range, output and
run options, running the engine and reporting its outcome.

Nothing here imports TensorFlow: the commands hand over the engine's function and objective.

Example
-------
>>> duration(75.4), settings_text(FULL_SETTINGS)
('1m15s', '256 steps, 32 crops, 512x512 canvas')
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xmaco import presets
from xmaco.cli._types import non_negative_int, positive_int
from xmaco.errors import NonFiniteError, OutOfMemoryError

if TYPE_CHECKING:
    from xmaco.evaluate import Recognition
    from xmaco.result import Result

# The model the commands use by default: embedded in the package, nothing to download.
EMBEDDED = "efficientnet_lite0"
EXIT_ERROR = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130

# The MACO reference setting (Xplique's defaults): the reference preset on a 512 canvas.
FULL_SETTINGS = {
    "steps": presets.PRESETS["reference"].steps,
    "crops": presets.PRESETS["reference"].crops,
    "image_size": 512,
}


class UsageError(Exception):
    """A command line that cannot be run; its message becomes the one error line."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, raised instead of printed with usage."""

    def error(self, message: str) -> Any:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def print_error(error: BaseException) -> None:
    message = " ".join(str(error).split()) or type(error).__name__
    print(f"xmaco: error: {message}", file=sys.stderr)


def show_warning(message: Any, category: type, *_: Any, **__: Any) -> None:
    """Warnings (e.g. a unit whose gradient is zero) as one line each, without source code."""
    print(f"xmaco: warning: {' '.join(str(message).split())}", file=sys.stderr)


def add_model_option(parser: argparse.ArgumentParser) -> None:
    """--model: a catalogue name (the embedded model by default) or a saved model file."""
    parser.add_argument(
        "--model",
        default=EMBEDDED,
        help=(
            "a name from xmaco.zoo.available() (default: %(default)s, embedded, no download), "
            "e.g. resnet50v2, or the path of a .keras or .h5 file"
        ),
    )


def add_values_range_option(parser: argparse.ArgumentParser) -> None:
    """--values-range LOW HIGH: the model's input range, when the model does not record it."""
    parser.add_argument(
        "--values-range",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        help=(
            "range of the model's input values; default: the range recorded on catalogue "
            "models, else 0 1"
        ),
    )


def add_output_options(parser: argparse.ArgumentParser, default_out: str) -> None:
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


def add_run_options(
    parser: argparse.ArgumentParser,
    defaults: dict[str, int] | None,
    seed_default: int | None,
    unset: str = " (default: demo setting, or the reference with --full)",
) -> None:
    """--steps, --crops, --image-size, --seed, --batch-size; those missing from ``defaults``
    are left unset (None), for the command to fill in; ``unset`` says how, in their help."""
    defaults = defaults or {}
    for option, metavar, text in (
        ("steps", "N", "optimisation steps"),
        ("crops", "N", "random crops per step and visualization, each resized to the model input"),
        ("image_size", "PX", "side of the square canvas in pixels"),
    ):
        parser.add_argument(
            f"--{option.replace('_', '-')}",
            type=positive_int,
            default=defaults.get(option),
            metavar=metavar,
            help=text + _default_text(defaults.get(option), unset),
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


def settings_text(settings: dict[str, int]) -> str:
    return (
        f"{settings['steps']} steps, {settings['crops']} crops, "
        f"{settings['image_size']}x{settings['image_size']} canvas"
    )


@dataclasses.dataclass(frozen=True)
class Outcome:
    result: Result
    failure: BaseException | None
    seconds: float


def run(
    method: Any,
    objective: Any,
    settings: dict[str, Any],
    classes: list[int] | None,
    quiet: bool,
) -> Outcome:
    """Run the engine; a failure part way still yields the partial result, to be saved."""
    start = time.perf_counter()
    failure = None
    try:
        result = method(objective, verbose=False if quiet else None, **settings)
    except (NonFiniteError, OutOfMemoryError) as error:
        result, failure = error.result, error
    if classes is not None:
        result = dataclasses.replace(result, config={**result.config, "classes": classes})
    return Outcome(result, failure, time.perf_counter() - start)


def finish(outcome: Outcome, bundle: Path, quiet: bool) -> int:
    """Say how the run ended; the command's exit status."""
    result = outcome.result
    if outcome.failure is not None:
        print_error(outcome.failure)
        print(f"xmaco: the partial result is saved in {bundle}", file=sys.stderr)
        return EXIT_FAILED
    if result.interrupted:
        done = result.stats.get("steps_done", len(result.history))
        print(
            f"xmaco: interrupted after {done} of {result.config['steps']} steps; the partial "
            f"result is saved in {bundle}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if not quiet:
        print(
            f"{len(result)} visualization(s), {result.config['steps']} steps in "
            f"{duration(outcome.seconds)} ({result.stats.get('steps_per_second', 0.0):.2f} "
            "steps/s)"
        )
    return 0


def report_recognitions(recognitions: list[Recognition], labels: list[str] | None) -> None:
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


def duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{seconds:.1f}s"
