"""The ``xmaco concepts`` command: a page of concepts per class, ranked by importance.

For each class given, :func:`xmaco.concepts.discover` factorises the activations of a layer
over random crops of the class's images, :func:`xmaco.concepts.visualize_concepts` renders
every concept with MACO in one batched run, and :func:`xmaco.concepts.write_page` writes
``OUT/<class>/index.html``; ``OUT/index.html`` links the classes' pages.

Example
-------
>>> import argparse
>>> parser = argparse.ArgumentParser(prog="xmaco")
>>> _ = add_concepts_command(parser.add_subparsers(dest="command"))
>>> args = parser.parse_args(["concepts", "--class", "goldfish", "--images", "fish/"])
>>> args.classes, args.images, args.layer, args.rank
(['goldfish'], ['fish/'], 'head_activation', 10)
"""

from __future__ import annotations

import argparse
import html
import re
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from xmaco import zoo
from xmaco._html import REPORT_CSS, document
from xmaco.cli._common import add_model_option
from xmaco.cli._types import non_negative_int, positive_int, power_of_two
from xmaco.files import atomic_write, ensure_writable_dir

__all__ = ["add_concepts_command", "run_concepts"]

_DEFAULT_LAYER = "head_activation"


def add_concepts_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``concepts`` subcommand to the ``xmaco`` command's subparsers.

    Parameters
    ----------
    subparsers
        What ``parser.add_subparsers()`` returned.

    Returns
    -------
    argparse.ArgumentParser
        The subcommand's parser; parsing sets ``handler`` to :func:`run_concepts`.

    Example
    -------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="xmaco")
    >>> concepts = add_concepts_command(parser.add_subparsers(dest="command"))
    >>> parser.parse_args(["concepts", "--class", "3", "--images", "d"]).handler.__name__
    'run_concepts'
    """
    parser = subparsers.add_parser(
        "concepts",
        help="find the concepts a class relies on, rank them and visualize them",
        description=(
            "For each class, take random crops of its images (--images, one folder per "
            "class), factorise the activations of --layer over the crops with non-negative "
            "matrix factorisation into --rank concepts, rank them by their importance for the "
            "class (total-order Sobol indices, --importance), split the most important at an "
            "earlier layer (--refine-layer), and visualize every concept direction with MACO "
            "in one batched run. Writes OUT/<class>/index.html (each concept's importance, "
            "visualization, transparency overlay, where it lies on the first photo, the crops "
            "that express it most, its sub-concepts and the code that reproduces them) and "
            "OUT/index.html linking the classes."
        ),
    )
    _add_discovery_options(parser)
    _add_ranking_options(parser)
    _add_visualization_options(parser)
    parser.set_defaults(handler=run_concepts)
    return parser


def _add_discovery_options(parser: argparse.ArgumentParser) -> None:
    """What to factorise: the model, the classes and their images, the layer, the rank, and
    the crops shown per concept."""
    add_model_option(parser)
    parser.add_argument(
        "--class",
        dest="classes",
        nargs="+",
        required=True,
        metavar="CLASS",
        help="class indices, or ImageNet class names, one page each",
    )
    parser.add_argument(
        "--images",
        nargs="+",
        required=True,
        metavar="DIR",
        help="one folder of images per --class, in the same order",
    )
    parser.add_argument(
        "--layer",
        default=_DEFAULT_LAYER,
        help="the layer to factorise; its activations must be non-negative, e.g. after a ReLU "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--rank",
        type=positive_int,
        default=10,
        metavar="K",
        help="concepts per class (default: %(default)s)",
    )
    parser.add_argument(
        "--image-crops",
        type=positive_int,
        default=32,
        metavar="N",
        help="random crops per image for the factorisation (default: %(default)s)",
    )
    parser.add_argument(
        "--top",
        type=positive_int,
        default=6,
        metavar="M",
        help="crops shown per concept (default: %(default)s)",
    )


def _add_ranking_options(parser: argparse.ArgumentParser) -> None:
    """How the concepts are ranked, and which of them are split into sub-concepts."""
    parser.add_argument(
        "--importance",
        choices=("sobol", "share"),
        default="sobol",
        help="how concepts are ranked: total-order Sobol indices for the class logit, as "
        "CRAFT, or their exact share of the logit (linear head, else by removal) "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--designs",
        type=power_of_two,
        default=32,
        metavar="N",
        help="Sobol designs, a power of two: the estimate costs N x (rank + 2) passes of the "
        "layers above --layer per image (default: %(default)s)",
    )
    parser.add_argument(
        "--refine-layer",
        metavar="LAYER",
        help="split the most important concepts into sub-concepts at this earlier layer "
        "(non-negative, e.g. block6a_expand_activation); default: no sub-concepts",
    )
    parser.add_argument(
        "--refine-top",
        type=positive_int,
        default=1,
        metavar="N",
        help="with --refine-layer: how many of the most important concepts to split "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--sub-rank",
        type=positive_int,
        default=3,
        metavar="K",
        help="with --refine-layer: sub-concepts per split concept (default: %(default)s)",
    )


def _add_visualization_options(parser: argparse.ArgumentParser) -> None:
    """Where to write, and the MACO run that renders the concepts."""
    parser.add_argument(
        "--out",
        default="concepts-out",
        metavar="DIR",
        help="directory to write into, created if needed (default: %(default)s)",
    )
    parser.add_argument(
        "--steps",
        type=positive_int,
        default=256,
        metavar="N",
        help="MACO optimisation steps (default: %(default)s)",
    )
    parser.add_argument(
        "--crops",
        type=positive_int,
        default=16,
        metavar="N",
        help="MACO crops per step and concept (default: %(default)s)",
    )
    parser.add_argument(
        "--image-size",
        type=positive_int,
        default=256,
        metavar="PX",
        help="side of the MACO canvas in pixels (default: %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="seed of the crops, the factorisation and the visualizations (default: %(default)s)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="N",
        help="images per model call during the visualization (micro-batches bound the memory)",
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")


def run_concepts(args: argparse.Namespace) -> int:
    """Run ``xmaco concepts`` with parsed arguments; return the exit status (0).

    Errors (a missing folder, an unknown layer or class) raise ``ValueError`` or
    ``TypeError``, which the ``xmaco`` command prints as one line.

    Example
    -------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="xmaco")
    >>> _ = add_concepts_command(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["concepts", "--class", "1", "2", "--images", "a"])
    >>> run_concepts(args)
    Traceback (most recent call last):
    ...
    ValueError: Expected one --images folder per --class (2). Received: 1 folder(s)
    """
    if len(args.images) != len(args.classes):
        raise ValueError(
            f"Expected one --images folder per --class ({len(args.classes)}). Received: "
            f"{len(args.images)} folder(s)"
        )
    for folder in args.images:
        if not Path(folder).is_dir():
            raise ValueError(f"Expected --images to name folders. Received: '{folder}'")
    if args.refine_layer is None and (args.refine_top != 1 or args.sub_rank != 3):
        raise ValueError(
            "Expected --refine-top and --sub-rank only with --refine-layer. Received: no "
            "--refine-layer"
        )
    if args.refine_top > args.rank:
        raise ValueError(
            f"Expected --refine-top to be at most --rank ({args.rank}). Received: "
            f"--refine-top {args.refine_top}"
        )
    out = ensure_writable_dir(args.out, argument="out")
    model = zoo.load(args.model)
    pages = [
        _class_page(args, model, text, folder, out)
        for text, folder in zip(args.classes, args.images, strict=True)
    ]
    index_page = _index(out / "index.html", pages)
    if not args.quiet:
        print(f"Concepts: {index_page}")
    return 0


def _class_page(
    args: argparse.Namespace, model: Any, text: str, folder: str, out: Path
) -> tuple[Any, Path]:
    """Find, visualize and write the concepts of one class; its bank and page."""
    from xmaco import concepts

    start = time.perf_counter()
    label = text.strip()
    index = int(label) if label.isascii() and label.isdigit() else zoo.class_index(label)
    bank = concepts.discover(
        model,
        args.layer,
        folder,
        index,
        rank=args.rank,
        crops=args.image_crops,
        top=args.top,
        seed=args.seed,
        importance=args.importance,
        designs=args.designs,
    )
    maco = {
        "steps": args.steps,
        "crops": args.crops,
        "image_size": args.image_size,
        "seed": args.seed,
        "batch_size": args.batch_size,
        "verbose": False if args.quiet else None,
    }
    result = concepts.visualize_concepts(bank, model, **maco)
    refined = {}
    if args.refine_layer is not None:
        for concept in range(args.refine_top):
            sub = concepts.refine(
                bank,
                concept,
                model,
                args.refine_layer,
                folder,
                rank=args.sub_rank,
                top=args.top,
                designs=args.designs,
                seed=args.seed,
            )
            refined[concept] = (sub, concepts.visualize_concepts(sub, model, **maco))
    channels = int(model.inputs[0].shape[-1])
    size = bank.top_crops.shape[2:4]
    photo = concepts.load_images(folder, size, bank.values_range, channels)[:1]
    maps = concepts.attribution_maps(bank, model, photo)
    page = concepts.write_page(
        out / _slug(bank.class_name), bank, result, refined=refined, photo=photo[0], maps=maps[0]
    )
    if not args.quiet:
        print(
            f"{bank.class_name}: {len(bank)} concepts in {time.perf_counter() - start:.1f}s"
            f" -> {page}",
            file=sys.stderr,
        )
    return bank, page


def _index(path: Path, pages: list) -> Path:
    items = "\n".join(
        f'<li><a href="{quote(page.parent.name)}/index.html">{html.escape(bank.class_name)}</a>'
        f" ({len(bank)} concepts, layer <code>{html.escape(bank.layer)}</code>; most important: "
        f"{html.escape(bank.describe_importance(0))})</li>"
        for bank, page in pages
    )
    page = document(
        "xmaco concepts", f"<h1>Concepts by class</h1>\n<ul>\n{items}\n</ul>", REPORT_CSS
    )
    with atomic_write(path, "w") as handle:
        handle.write(page)
    return path


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-") or "class"
