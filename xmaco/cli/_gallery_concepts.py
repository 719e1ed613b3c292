"""The options of ``xmaco gallery`` for the concepts of classes from photos (``--concepts-from``).

Example
-------
>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_concept_options(parser)
>>> args = parser.parse_args(["--concepts-from", "photos", "--concept-layer", "conv2"])
>>> (args.concepts_from, args.concept_layer, args.concept_rank, args.concept_top)
('photos', 'conv2', 10, 8)
"""

from __future__ import annotations

import argparse
from typing import Any

from xmaco.cli._types import positive_int

__all__ = ["add_concept_options", "concept_settings"]


def add_concept_options(parser: argparse.ArgumentParser) -> None:
    """The concepts of classes from photos, on the classes' pages."""
    group = parser.add_argument_group(
        "concepts",
        "with --concepts-from DIR, each selected class that has a folder DIR/<class index or "
        "ImageNet name>/ of photos gets its concepts on its page: found at --concept-layer, "
        "ranked by importance, each with its MACO picture (the gallery's settings) and best "
        "crops; resumed and sharded with the class",
    )
    group.add_argument(
        "--concepts-from",
        metavar="DIR",
        help="a folder holding one folder of photos (.jpg, .png, ...) per class",
    )
    group.add_argument(
        "--concept-layer",
        default="head_activation",
        metavar="NAME",
        help="the layer factorised; non-negative activations, e.g. after a ReLU "
        "(default: %(default)s)",
    )
    group.add_argument(
        "--concept-rank",
        type=positive_int,
        default=10,
        metavar="K",
        help="concepts per class (default: %(default)s)",
    )
    group.add_argument(
        "--concept-image-crops",
        type=positive_int,
        default=32,
        metavar="N",
        help="random crops per photo for the factorisation (default: %(default)s)",
    )
    group.add_argument(
        "--concept-top",
        type=positive_int,
        default=8,
        metavar="M",
        help="best crops shown per concept (default: %(default)s)",
    )
    _add_importance_options(group)


def _add_importance_options(group: argparse._ArgumentGroup) -> None:
    """How the concepts are ranked, and which are split into sub-concepts."""
    group.add_argument(
        "--concept-designs",
        type=positive_int,
        default=32,
        metavar="N",
        help="Sobol designs of the importance (total-order Sobol indices, as CRAFT), a power of "
        "two (default: %(default)s)",
    )
    group.add_argument(
        "--concept-refine-layer",
        metavar="NAME",
        help="split the most important concepts into sub-concepts at this earlier layer "
        "(non-negative); default: no sub-concepts",
    )
    group.add_argument(
        "--concept-refine-top",
        type=positive_int,
        default=1,
        metavar="N",
        help="with --concept-refine-layer: how many concepts to split (default: %(default)s)",
    )
    group.add_argument(
        "--concept-sub-rank",
        type=positive_int,
        default=3,
        metavar="K",
        help="with --concept-refine-layer: sub-concepts per split concept (default: %(default)s)",
    )


def concept_settings(args: argparse.Namespace) -> Any:
    """The ``xmaco.gallery.ConceptSettings`` of parsed options; None without --concepts-from."""
    from xmaco.gallery.class_concepts import ConceptSettings

    if args.concepts_from is None:
        return None
    return ConceptSettings(
        args.concepts_from,
        layer=args.concept_layer,
        rank=args.concept_rank,
        image_crops=args.concept_image_crops,
        top=args.concept_top,
        designs=args.concept_designs,
        refine_layer=args.concept_refine_layer,
        refine_top=args.concept_refine_top,
        sub_rank=args.concept_sub_rank,
    )
