"""The ``xmaco demo`` command: five ImageNet classes with MACO on the embedded EfficientNet-Lite0,
in one batched run, and an ``index.html`` contact sheet with what the model recognises in each
picture.

Example
-------
>>> from xmaco.cli._common import Parser
>>> parser = Parser(prog="xmaco")
>>> _ = add_demo_command(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["demo", "--full"])
>>> args.full, args.out, args.crop_side, args.seed
(True, 'demo-out', (0.5, 0.2), 0)
"""

from __future__ import annotations

import argparse
import html
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import xmaco
from xmaco import schedules, zoo
from xmaco._html import DEMO_CSS, document
from xmaco.cli._common import (
    EMBEDDED,
    FULL_SETTINGS,
    Outcome,
    add_output_options,
    add_run_options,
    duration,
    finish,
    report_recognitions,
    run,
    settings_text,
)
from xmaco.cli._types import fraction
from xmaco.files import atomic_write, ensure_writable_dir

if TYPE_CHECKING:
    from xmaco.evaluate import Recognition

__all__ = ["DEMO_CLASSES", "DEMO_CROP_SIDE", "DEMO_SETTINGS", "add_demo_command"]

# Five ImageNet classes with distinctive colours and textures, which MACO renders recognisably.
DEMO_CLASSES = (1, 84, 130, 327, 949)
# Sized to finish in minutes on a 2-core CPU (timings: README, "Settings and timings").
DEMO_SETTINGS = {"steps": 128, "crops": 6, "image_size": 256}
DEMO_SEED = 0
# The crops shrink from half the canvas side to a fifth, not to 0.05 as in the reference: the
# last steps then refine whole objects, at the scale the contact sheet judges them (the central
# half), rather than small details; at the reference steps, crops and canvas (--full) this
# schedule recognised more of the five classes (README, "Settings and timings").
DEMO_CROP_SIDE = (0.5, 0.2)


def add_demo_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``xmaco demo`` to ``subparsers`` (what ``parser.add_subparsers()`` returned).

    Returns the subcommand's parser; parsing ``demo ...`` sets ``handler`` to the function that
    runs it.

    Example
    -------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="xmaco")
    >>> demo = add_demo_command(parser.add_subparsers(dest="command"))
    >>> parser.parse_args(["demo", "--steps", "8"]).steps
    8
    """
    parser = subparsers.add_parser(
        "demo",
        help="the main job on the embedded model: five ImageNet classes and a contact sheet",
        description=(
            "Visualize five well-known ImageNet classes ("
            + ", ".join(f"{zoo.imagenet_classes()[c]} {c}" for c in DEMO_CLASSES)
            + ") with MACO on the embedded EfficientNet-Lite0, in one batched run, and write "
            "their images, transparency maps and overlays, a picture of all five and an "
            "index.html contact sheet showing what the model recognises in the central half of "
            "each visualization. The default settings ("
            + settings_text(DEMO_SETTINGS)
            + ") take about three minutes on an idle 2-core CPU; --full uses the steps, crops "
            "and canvas of the MACO reference ("
            + settings_text(FULL_SETTINGS)
            + "). Both shrink the crops to a fifth of the canvas side (--crop-side)."
        ),
    )
    add_output_options(parser, default_out="demo-out")
    parser.add_argument(
        "--full",
        action="store_true",
        help=f"use the reference steps, crops and canvas ({settings_text(FULL_SETTINGS)}); "
        "about 20 minutes on an idle 2-core CPU",
    )
    add_run_options(parser, None, seed_default=DEMO_SEED)
    parser.add_argument(
        "--crop-side",
        nargs=2,
        type=fraction,
        default=DEMO_CROP_SIDE,
        metavar=("START", "END"),
        help="crop side as a fraction of the canvas side, shrinking linearly from START to END "
        "over the run (default: %(default)s; the MACO reference shrinks to 0.05)",
    )
    parser.set_defaults(handler=_demo)
    return parser


def _demo(args: argparse.Namespace) -> int:
    from xmaco.evaluate import recognise
    from xmaco.export import save_result

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
            f"{settings_text(settings)}, crop side {start_side:g} to {end_side:g} of the "
            f"canvas, seed {args.seed})",
            file=sys.stderr,
        )
    crop_size = schedules.linear(start_side, end_side, settings["steps"])
    keywords = {
        # the reference preset's constant learning rate and phase, with the demo's own steps,
        # crops and crop schedule: the setting the README's demo figures were measured with
        "preset": "reference",
        **settings,
        "crop_size": crop_size,
        "seed": args.seed,
        "batch_size": args.batch_size,
    }
    outcome = run(xmaco.maco, objective, keywords, list(DEMO_CLASSES), args.quiet)
    written = save_result(out, outcome.result, prefix="demo")
    recognitions = recognise(model, outcome.result)
    picture = _save_grid(out / "demo_grid.png", outcome.result)
    sheet = _contact_sheet(
        out / "index.html", outcome, written, picture, recognitions, time.perf_counter() - start
    )
    if not args.quiet:
        report_recognitions(recognitions, zoo.imagenet_classes())
        hits = sum(found.top1 for found in recognitions)
        print(f"Top-1 on the central half: {hits} of {len(recognitions)} classes")
        print(f"Contact sheet: {sheet}")
        print(f"Picture of all five: {picture}")
    return finish(outcome, written[-2], args.quiet)


def _save_grid(path: Path, result: xmaco.Result) -> Path:
    import matplotlib.pyplot as plt

    figure = xmaco.plot.grid(result, cols=len(result), size=2.2)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=72)  # about 800 px wide, 250 KB
    plt.close(figure)
    with atomic_write(path) as handle:
        handle.write(buffer.getvalue())
    return path


def _contact_sheet(
    path: Path,
    outcome: Outcome,
    written: list[Path],
    picture: Path,
    recognitions: list[Recognition],
    total_seconds: float,
) -> Path:
    """Write a self-contained HTML page (inline CSS, images linked relatively)."""
    model = outcome.result.config["model"]
    rows = _settings_rows(outcome, recognitions, total_seconds)
    settings = "\n".join(
        f"<tr><td>{html.escape(key)}</td><td>{html.escape(value)}</td></tr>"
        for key, value in rows.items()
    )
    cards = [
        _card(found, written[3 * i : 3 * i + 3], zoo.imagenet_classes())
        for i, found in enumerate(recognitions)
    ]
    title = f"xmaco demo: {len(recognitions)} ImageNet classes with MACO"
    body = f"""<h1>{html.escape(title)} on {html.escape(model)}</h1>
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
</div>"""
    page = document(title, body, DEMO_CSS)
    with atomic_write(path, "w") as handle:
        handle.write(page)
    return path


def _settings_rows(
    outcome: Outcome, recognitions: list[Recognition], total_seconds: float
) -> dict[str, str]:
    """The contact sheet's table: the run's settings, its time and the evaluation."""
    result = outcome.result
    config = result.config
    hits = sum(found.top1 for found in recognitions)
    return {
        "model": f"{config['model']} (input {config['model_input_size'][0]}x"
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
        "time": f"optimisation {duration(outcome.seconds)} "
        f"({result.stats.get('steps_per_second', 0.0):.2f} steps/s), whole demo "
        f"{duration(total_seconds)}, on {os.cpu_count()} CPU core(s)",
        "evaluation": "the model classifies the central half of each canvas (a square of half "
        f"its side) resized to its input; the target is top-1 for {hits} of "
        f"{len(recognitions)} classes",
    }


def _card(found: Recognition, files: list[Path], labels: list[str]) -> str:
    """One class on the contact sheet: its overlay, the model's verdict and top-5, its files."""
    image, alpha, side_by_side = files
    verdict = (
        '<span class="hit">top-1</span>'
        if found.top1
        else f'<span class="{"hit" if found.top5 else "miss"}">rank {found.target_rank}</span>'
    )
    top = "".join(
        f"<li>{html.escape(labels[c])} ({c}): {p:.1%}</li>"
        for c, p in zip(found.top, found.probabilities, strict=True)
    )
    name = html.escape(labels[found.target])
    return f"""<div class="card">
<h2>{name} ({found.target})</h2>
<img src="{_href(side_by_side)}" alt="{name}: image and overlay">
<p>Target {verdict}, probability {found.target_probability:.1%}. Model's top-5:</p>
<ol>{top}</ol>
<p class="files"><a href="{_href(image)}">image</a>
<a href="{_href(alpha)}" class="alpha">with transparency</a>
<a href="{_href(side_by_side)}">image | overlay</a></p>
</div>"""


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
