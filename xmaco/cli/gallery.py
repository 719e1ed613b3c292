"""The ``xmaco gallery`` command: a browsable site of a whole model, resumable and shardable.

``add_gallery_command`` adds the subcommand to the ``xmaco`` parser; ``python -m xmaco.gallery``
runs the same options on their own (:func:`main`).

Example
-------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="xmaco")
>>> _ = add_gallery_command(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["gallery", "--classes", "0-99", "--out", "site", "--shard", "1/4"])
>>> args.classes, args.shard, args.preset, args.steps, args.handler is run_command
('0-99', (1, 4), 'fast', None, True)
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from xmaco import presets
from xmaco._startup import list_devices
from xmaco.cli._common import add_model_option, add_values_range_option
from xmaco.cli._gallery_concepts import add_concept_options, concept_settings
from xmaco.cli._types import non_negative_int, positive_int
from xmaco.errors import OutOfMemoryError
from xmaco.gallery.items import parse_shard

if TYPE_CHECKING:
    from xmaco.gallery.runner import Settings, Summary

__all__ = ["add_arguments", "add_gallery_command", "main", "run_command"]

_EXIT_ERROR = 2
_EXIT_INCOMPLETE = 1
_EXIT_INTERRUPTED = 130

_DESCRIPTION = (
    "Visualize every class of a model, or every channel of a layer, with MACO in batched runs, "
    "and write a static site: an index with thumbnails and a search box, and a page per item "
    "with the image, its transparency overlay, the objective curve and the settings to "
    "reproduce it. Rerunning the same command resumes: finished items (same settings hash) "
    "are skipped; a killed run loses at most the batch in flight. --shard i/n computes a "
    "share of the items; --assemble builds the site from all shards."
)
_EPILOG = """examples:
  xmaco gallery --classes all --out site
  xmaco gallery --classes "goldfish,great white shark,130" --steps 128 --out site
  xmaco gallery --layer block3_out --channels 0-63 --out site
  xmaco gallery --classes 0-9 --concepts-from photos --out site  # photos/<class>/*.jpg
  xmaco gallery --classes all --shard 3/8 --out site     # one of 8 cluster jobs
  xmaco gallery --classes all --shard auto --out site    # in a Slurm array or K8s Indexed Job
  xmaco gallery --assemble --out site                    # once all 8 are done
"""


def add_gallery_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``gallery`` subcommand to the ``xmaco`` parser's subparsers.

    Parsing ``gallery ...`` gives a namespace whose ``handler`` is :func:`run_command`.

    Parameters
    ----------
    subparsers
        The object returned by ``parser.add_subparsers()``.

    Returns
    -------
    argparse.ArgumentParser
        The subcommand's parser.

    Example
    -------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="xmaco")
    >>> add_gallery_command(parser.add_subparsers(dest="command")).prog
    'xmaco gallery'
    """
    parser = subparsers.add_parser(
        "gallery",
        help="a browsable site of a whole model's classes or a layer's channels",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    parser.set_defaults(handler=run_command)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the gallery's options to ``parser``.

    Example
    -------
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser)
    >>> parser.parse_args(["--assemble", "--out", "site"]).assemble
    True
    """
    _add_selection(parser)
    _add_settings(parser)
    add_concept_options(parser)
    _add_run_options(parser)


def _add_selection(parser: argparse.ArgumentParser) -> None:
    """The model, what of it to visualize, and the site folder."""
    add_model_option(parser)
    what = parser.add_mutually_exclusive_group()
    what.add_argument(
        "--classes",
        metavar="SELECTION",
        help="classes to visualize: all, ranges and indices (0-99,130), or ImageNet names "
        "('goldfish,great white shark'), comma-separated",
    )
    what.add_argument(
        "--channels",
        metavar="SELECTION",
        help="channels of --layer to visualize: all, or ranges and indices (0-63,100)",
    )
    parser.add_argument(
        "--layer",
        help="with --channels, the layer; with --classes, the layer holding the class scores "
        "(default: 'logits', else the last layer)",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="the site folder")


def _add_settings(parser: argparse.ArgumentParser) -> None:
    """The settings of the visualizations, which their settings hash records."""
    parser.add_argument(
        "--preset",
        choices=list(presets.PRESETS),
        default=presets.DEFAULT,
        help="steps, crops, crop schedule and learning rate (see 'xmaco visualize --help'); "
        "default: %(default)s; reference is the MACO paper's setting, twice the work",
    )
    parser.add_argument(
        "--steps", type=positive_int, metavar="N", help="steps (default: the preset's)"
    )
    parser.add_argument(
        "--crops",
        type=positive_int,
        metavar="N",
        help="crops per step and visualization (default: the preset's)",
    )
    parser.add_argument(
        "--image-size",
        type=positive_int,
        default=512,
        metavar="PX",
        help="side of the square canvas (default: %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="base seed; class or channel k uses seed + k, whatever the batch or shard "
        "(default: %(default)s)",
    )
    add_values_range_option(parser)
    parser.add_argument(
        "--spectrum", metavar="NPY", help="a .npy magnitude instead of the natural default"
    )


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """How the work is run and shared: batches, devices, shards; none changes an image."""
    parser.add_argument(
        "--batch",
        type=positive_int,
        default=8,
        metavar="N",
        help="visualizations per MACO run (default: %(default)s)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="N",
        help="images per model call inside a run (micro-batches bound the memory; same "
        "images); default: chosen for the device (4 on CPU, two at a time; all crops of a "
        "step on GPU)",
    )
    parser.add_argument("--jit", action="store_true", help="compile the step with XLA")
    parser.add_argument(
        "--mirrored",
        action="store_true",
        help="split every step's crops across all GPUs of this host "
        "(tf.distribute.MirroredStrategy; same images as one device)",
    )
    parser.add_argument(
        "--shard",
        type=_shard,
        metavar="I/N",
        help="compute only shard I of N (0 <= I < N): blocks of --batch indices dealt "
        "round-robin; each shard keeps its own manifest in the same site folder. 'auto': "
        "I and N from a Slurm job array (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_MIN, "
        "SLURM_ARRAY_TASK_COUNT) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX, and "
        "XMACO_SHARD_COUNT set to its completions)",
    )
    parser.add_argument(
        "--assemble",
        action="store_true",
        help="build the site from the manifests of all shards in --out, computing nothing",
    )
    parser.add_argument(
        "--force", action="store_true", help="recompute the selected items even if finished"
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")


def run_command(args: argparse.Namespace) -> int:
    """Run ``xmaco gallery`` for parsed arguments.

    Returns
    -------
    int
        0 when every selected item is finished; 1 when some item failed (non-finite values),
        a run ran out of memory (the finished runs stay recorded) or, with ``--assemble``,
        some selected item is missing.

    Raises
    ------
    ValueError
        For a bad combination of options or settings (the ``xmaco`` command prints it as one
        error line and exits with 2).

    Example
    -------
    >>> import argparse, tempfile
    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser)
    >>> run_command(parser.parse_args(["--assemble", "--out", tempfile.mkdtemp(), "--quiet"]))
    0
    """
    from xmaco.gallery.runner import Settings

    log = None if args.quiet else _log
    if args.assemble:
        return _assemble(args, log)
    if args.classes is None and args.channels is None:
        raise ValueError(
            "Expected what to visualize: --classes SELECTION, or --layer NAME --channels "
            "SELECTION (or --assemble). Received: neither --classes nor --channels"
        )
    settings = Settings(
        model=args.model,
        preset=args.preset,
        steps=args.steps,
        crops=args.crops,
        image_size=args.image_size,
        seed=args.seed,
        values_range=None if args.values_range is None else tuple(args.values_range),
        spectrum=args.spectrum,
    )
    if args.shard == "auto":
        args.shard = _environment_shard(log)
    try:
        summary = _generate(args, settings, log)
    except OutOfMemoryError as error:
        print(
            f"xmaco gallery: error: {' '.join(str(error).split())} Finished runs are recorded; "
            "rerun with a smaller --batch or a --batch-size to resume.",
            file=sys.stderr,
        )
        return _EXIT_INCOMPLETE
    _report(summary, args.quiet)
    return _EXIT_INCOMPLETE if summary.failed else 0


def _assemble(args: argparse.Namespace, log: Any) -> int:
    from xmaco.gallery.runner import assemble

    extra = [
        option
        for option, given in (
            ("--classes", args.classes),
            ("--channels", args.channels),
            ("--shard", args.shard),
            ("--force", args.force),
            ("--concepts-from", args.concepts_from),
        )
        if given
    ]
    if extra:
        raise ValueError(
            "Expected --assemble with --out only: it builds the site from the manifests "
            f"already there. Received: {' '.join(extra)}"
        )
    summary = assemble(args.out, log=log)
    _report(summary, args.quiet)
    return _EXIT_INCOMPLETE if summary.missing else 0


def _generate(args: argparse.Namespace, settings: Settings, log: Any) -> Summary:
    from xmaco.gallery.runner import generate

    return generate(
        args.out,
        settings,
        classes=args.classes,
        channels=args.channels,
        layer=args.layer,
        batch=args.batch,
        shard_spec=args.shard,
        force=args.force,
        batch_size=args.batch_size,
        jit_compile=args.jit,
        strategy=_strategy(args.mirrored),
        command=_command(args),
        log=log,
        concepts=concept_settings(args),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m xmaco.gallery``: the gallery's options without the ``xmaco`` command.

    Errors are one line ``xmaco gallery: error: ...`` on stderr and exit status 2; Ctrl-C
    exits with 130 (finished runs stay recorded).

    Example
    -------
    >>> main(["--classes", "all"])
    2
    """
    parser = argparse.ArgumentParser(
        prog="python -m xmaco.gallery",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    try:
        args = parser.parse_args(argv)
        list_devices()
        return run_command(args)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 0
    except KeyboardInterrupt:
        print("xmaco gallery: interrupted; finished runs are recorded", file=sys.stderr)
        return _EXIT_INTERRUPTED
    except (ValueError, TypeError, OSError, ImportError) as error:
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"xmaco gallery: error: {message}", file=sys.stderr)
        return _EXIT_ERROR


def _environment_shard(log: Any) -> tuple[int, int]:
    """``--shard auto``: the shard of this Slurm array task or Kubernetes Indexed Job pod."""
    from xmaco.gallery.environment import shard_from_environment

    index, count, source = shard_from_environment()
    if log is not None:
        log(f"shard {index}/{count} (from {source})")
    return index, count


def _strategy(mirrored: bool) -> Any:
    """``tf.distribute.MirroredStrategy()`` over this host's GPUs (its CPU when it has none)."""
    if not mirrored:
        return None
    import tensorflow as tf

    return tf.distribute.MirroredStrategy()


def _command(args: argparse.Namespace) -> str:
    """The command line, without ``--out``: a copied or moved site keeps the same record."""
    words = ["xmaco", "gallery", "--model", args.model]
    for option in ("classes", "channels", "layer"):
        if getattr(args, option) is not None:
            words += [f"--{option}", getattr(args, option)]
    words += ["--preset", args.preset]
    if args.steps is not None:
        words += ["--steps", str(args.steps)]
    if args.crops is not None:
        words += ["--crops", str(args.crops)]
    words += ["--image-size", str(args.image_size), "--seed", str(args.seed)]
    if args.values_range is not None:
        words += ["--values-range", *(f"{value:g}" for value in args.values_range)]
    if args.spectrum is not None:
        words += ["--spectrum", args.spectrum]
    if args.concepts_from is not None:
        words += concept_settings(args).options()
    words += ["--batch", str(args.batch)]
    if args.batch_size is not None:
        words += ["--batch-size", str(args.batch_size)]
    if args.jit:
        words.append("--jit")
    if args.mirrored:
        words.append("--mirrored")
    if args.shard is not None:
        words += ["--shard", f"{args.shard[0]}/{args.shard[1]}"]
    return shlex.join(words)


def _report(summary: Summary, quiet: bool) -> None:
    if quiet:
        return
    if summary.computed:
        print(
            f"{len(summary.computed)} visualization(s) in {summary.seconds:.0f}s of MACO runs "
            f"({summary.per_hour:.0f} per hour), {summary.skipped} already finished"
        )
    if summary.concepts:
        per_class = summary.concept_seconds / len(summary.concepts)
        print(
            f"Concepts of {len(summary.concepts)} class(es) in {summary.concept_seconds:.0f}s "
            f"({per_class:.1f}s per class)"
        )
    if summary.failed:
        print(f"{len(summary.failed)} item(s) failed (non-finite values): rerun to retry them")
    print(f"Site: {summary.site}")


def _log(line: str) -> None:
    print(f"xmaco gallery: {line}", file=sys.stderr, flush=True)


def _shard(text: str) -> tuple[int, int] | str:
    if text.strip().casefold() == "auto":
        return "auto"  # read from the environment when the command runs, not when parsed
    try:
        return parse_shard(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
