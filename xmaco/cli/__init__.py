"""The ``xmaco`` command: visualize what a model's classes, channels and neurons respond to.

One module per subcommand: ``xmaco visualize`` (:mod:`xmaco.cli.visualize`) runs one batched
optimisation (MACO by default) on a model from :mod:`xmaco.zoo` or a saved Keras file and
writes, per visualization, the image, the image with its transparency as alpha channel, an
image|overlay PNG, and the :class:`xmaco.Result` bundle. ``xmaco demo`` (:mod:`xmaco.cli.demo`)
does that for five ImageNet classes on the embedded EfficientNet-Lite0 and adds an
``index.html`` contact sheet with what the model recognises in each picture.
``xmaco concepts`` (:mod:`xmaco.cli.concepts`) finds and visualizes the concepts of classes;
``xmaco gallery`` (:mod:`xmaco.cli.gallery`) renders many units into a browsable site;
``xmaco evaluate`` (:mod:`xmaco.cli.evaluate`) asks other networks whether they recognise the
class in pictures.

Parsing imports neither TensorFlow nor Keras: ``--help`` and argument errors answer at once,
and each subcommand imports what it runs. Every error ends in one line ``xmaco: error: ...`` on
stderr and exit status 2; Ctrl-C saves the partial result and exits with 130.

Example
-------
>>> from xmaco.cli import build_parser
>>> args = build_parser().parse_args(["visualize", "--class", "goldfish", "2", "--steps", "64"])
>>> args.classes, args.steps, args.model
(['goldfish', '2'], 64, 'efficientnet_lite0')
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

import xmaco
from xmaco._startup import list_devices
from xmaco.cli._common import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    FULL_SETTINGS,
    Parser,
    UsageError,
    print_error,
    show_warning,
)
from xmaco.cli.concepts import add_concepts_command
from xmaco.cli.demo import DEMO_CLASSES, DEMO_CROP_SIDE, DEMO_SETTINGS, add_demo_command
from xmaco.cli.evaluate import add_evaluate_command
from xmaco.cli.gallery import add_gallery_command
from xmaco.cli.visualize import DEFAULT_PRESET, add_visualize_command

__all__ = [
    "DEFAULT_PRESET",
    "DEMO_CLASSES",
    "DEMO_CROP_SIDE",
    "DEMO_SETTINGS",
    "FULL_SETTINGS",
    "build_parser",
    "main",
]


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
    parser = Parser(
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
    for add_command in (
        add_visualize_command,
        add_demo_command,
        add_concepts_command,
        add_gallery_command,
        add_evaluate_command,
    ):
        add_command(commands)
    return parser


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
        warnings.showwarning = show_warning
        try:
            args = build_parser().parse_args(argv)
            if args.quiet:
                warnings.simplefilter("ignore")
            list_devices()  # imports TensorFlow, without its start-up notices
            return args.handler(args)
        except SystemExit as exit_:
            # --help and --version print, then exit through argparse.
            return exit_.code if isinstance(exit_.code, int) else 0
        except KeyboardInterrupt:
            print("xmaco: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except (UsageError, ValueError, TypeError, OSError, ImportError) as error:
            print_error(error)
            return EXIT_ERROR
