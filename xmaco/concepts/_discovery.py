"""Finding the concepts of a class: crops, their activations, NMF, importance, ranking."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from ..objectives import _resolve_layer
from ._activations import Pictures, Reader, head_model, pictures_of
from ._arguments import bounded_count, class_layer_name, class_of, crop_range
from ._bank import ConceptBank
from ._decomposition import Factorization, nmf, project
from ._importance import logit_share
from ._sobol import _power_of_two, logit_of, total_order

__all__ = ["discover", "refine"]


def discover(
    model: Any,
    layer: str | int,
    images: Any,
    class_index: int | str,
    rank: int = 10,
    crops: int = 32,
    crop_size: float | tuple[float, float] = (0.25, 0.5),
    top: int = 6,
    class_layer: str | int | None = None,
    seed: int = 0,
    batch_size: int = 64,
    iterations: int = 500,
    values_range: tuple[float, float] | None = None,
    model_input_size: int | tuple[int, int] | None = None,
    importance: str = "sobol",
    designs: int = 32,
) -> ConceptBank:
    """Find the concepts a class relies on at ``layer`` and rank them by importance.

    1. ``crops`` random square crops per image, of side ``crop_size`` (a fraction of the
       image's shorter side, or a (low, high) range drawn uniformly), each resized to the model
       input; the activations of ``layer`` for each crop are averaged over its positions (or
       tokens): one row of C channels per crop. The layer must be non-negative (e.g. after a
       ReLU).
    2. :func:`nmf` of the (crops x C) matrix at ``rank``: the concept directions.
    3. The importance of each concept for the class, measured on the whole images, by which
       the concepts are ranked (``importance``):

       - ``"sobol"`` (default, as CRAFT): the concept's total-order Sobol index for the class
         logit, :func:`sobol_importance` with ``designs`` and ``seed``: the share of the
         logit's variance, when quasi-random masks scale the concepts' coefficients at every
         position, that involves the concept. Unsigned, in [0, 1].
       - ``"share"``: the concept's signed share of the class logit. With a **linear head**
         (global average pooling then a Dense layer, the usual classifier; checked
         numerically), ``logit = w . mean(a) + b`` and ``mean(a) ~= sum_k U_k v_k``, so concept
         k contributes ``U_k (v_k . w)``: the mean of that contribution over the images,
         divided by the sum of the absolute contributions (exact). Otherwise by
         **sensitivity**: each concept is removed from the activations of every position
         (``a - U_k(position) v_k``) and the drop of the class logit, averaged over the
         images, is normalised in the same way. Negative: the concept speaks against the
         class, which the Sobol index does not say.

    Parameters
    ----------
    model
        A Keras model with one image input.
    layer
        The layer to factorise (name or index), e.g. ``"head_activation"`` (7x7x1280) of
        :func:`xmaco.zoo.efficientnet_lite0`.
    images
        Images of the class: an array (N, H, W, C) in the model's input range, or a folder of
        image files (read by :func:`load_images` at twice the model's input size).
    class_index
        The class: an index into the class layer, or an ImageNet class name (see
        :func:`xmaco.zoo.class_index`).
    rank
        The number of concepts.
    crops
        Crops per image.
    crop_size
        Crop side, a fraction in (0, 1] of the image's shorter side, or a (low, high) range.
    top
        The number of top crops kept per concept.
    class_layer
        The layer holding the class scores; None: the model's last layer.
    seed
        Seed of the crops and of the factorisation.
    batch_size
        Crops per model call.
    iterations
        Maximum NMF iterations.
    values_range
        The model's input range, to read a folder; None: the range recorded on the model,
        else (0, 1).
    model_input_size
        (height, width), when the model's input size is unknown.
    importance
        ``"sobol"`` or ``"share"``, see above.
    designs
        With ``"sobol"``: rows of each Sobol matrix, a power of two >= 2; the cost is
        ``designs * (rank + 2)`` passes of the layers above ``layer`` per image.

    Returns
    -------
    ConceptBank
        The concepts ranked by decreasing importance.

    Example
    -------
    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((16, 16, 3)),
    ...     keras.layers.Conv2D(6, 3, activation="relu", name="features"),
    ...     keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    >>> images = np.random.default_rng(0).random((4, 32, 32, 3))
    >>> bank = discover(model, "features", images, class_index=0, rank=3, crops=8)
    >>> len(bank), bank.importance_method, bank.importance_settings["designs"]
    (3, 'sobol', 32)
    >>> share = discover(model, "features", images, 0, rank=3, crops=8, importance="share")
    >>> share.importance_method, round(float(np.abs(share.importance).sum()), 6)
    ('linear head', 1.0)
    """
    name, _ = _resolve_layer(model, layer)
    pictures = pictures_of(model, images, values_range, model_input_size)
    crops = bounded_count(crops, "crops", 1, None, "")
    top = bounded_count(top, "top", 1, None, "")
    batch_size = bounded_count(batch_size, "batch_size", 1, None, "")
    sides = crop_range(crop_size)
    method = _importance_method(importance)
    if method == "sobol":
        designs = _power_of_two(designs)
    head_layer = class_layer_name(model, class_layer)
    classes = int(np.prod(model.get_layer(head_layer).output.shape[1:]))
    index, class_name = class_of(class_index, classes)

    reader = Reader.of(model, name, pictures, batch_size)
    factors, boxes, owners = _factorised(reader, name, rank, crops, sides, iterations, seed)
    maps = reader.whole()
    settings = {
        "function": "discover",
        "layer": name,
        "class_index": index,
        "rank": int(factors.components.shape[0]),
        "crops": crops,
        "crop_size": list(sides),
        "top": top,
        "seed": seed,
        "importance": method,
        **({"designs": designs} if method == "sobol" else {}),
    }
    if method == "sobol":
        logit = logit_of(model, name, head_layer, index)
        found = total_order(logit, maps, factors.components, designs, seed, batch_size)
        scores, error, measured, method = found.indices, found.error, found.record(), "sobol"
    else:
        scores, method = logit_share(model, name, head_layer, index, maps, factors, seed)
        error, measured = None, {"method": method, "images": len(maps)}
    return _ranked(
        factors,
        scores,
        boxes,
        owners,
        top,
        reader,
        layer=name,
        class_index=index,
        class_name=class_name,
        importance_method=method,
        importance_error=error,
        importance_settings=measured,
        values_range=pictures.values_range,
        settings=settings,
    )


def refine(
    bank: ConceptBank,
    concept: int,
    model: Any,
    layer: str | int,
    images: Any,
    rank: int = 3,
    regions: int = 16,
    crops: int = 8,
    crop_size: float | tuple[float, float] = (0.5, 1.0),
    top: int = 6,
    target: str = "class",
    designs: int = 32,
    class_layer: str | int | None = None,
    seed: int = 0,
    batch_size: int = 64,
    iterations: int = 500,
    values_range: tuple[float, float] | None = None,
    model_input_size: int | tuple[int, int] | None = None,
) -> ConceptBank:
    """Split one concept into sub-concepts at an earlier layer (CRAFT's recursivity).

    1. The ``regions`` crops of ``bank`` where the concept is most present (its largest
       coefficients) are cut out of ``images`` (the images the bank was found on), each at the
       model's input size.
    2. :func:`discover`'s factorisation runs on them at ``layer``: ``crops`` random crops per
       region, their activations averaged over positions, NMF at ``rank``.
    3. Each sub-concept's importance is its total-order Sobol index (:func:`sobol_importance`)
       on the regions, for ``target``: ``"class"``, the class logit (as CRAFT ranks
       sub-concepts), or ``"parent"``, the parent concept's presence at ``bank.layer`` (its
       non-negative coefficient in the spatial mean of that layer's activations).

    Parameters
    ----------
    bank
        From :func:`discover` (or :func:`refine`, to split again).
    concept
        The index of the concept to split in ``bank`` (0 for the most important).
    model
        The model the bank was found on.
    layer
        An earlier layer (name or index), non-negative, from which ``bank.layer`` and the
        class layer are computed.
    images
        The images the bank was found on: the same array, or the same folder.
    rank
        The number of sub-concepts.
    regions
        How many of the bank's crops are decomposed again (at most the bank's crops).
    crops
        Random crops per region.
    crop_size
        Their side, a fraction of the region's side, or a (low, high) range.
    top
        Crops kept per sub-concept.
    target
        ``"class"`` or ``"parent"``: what the importance measures.
    designs
        Rows of each Sobol matrix, a power of two >= 2.
    class_layer
        The layer holding the class scores; None: the model's last layer.
    seed
        Seed of the crops, the factorisation and the Sobol sequence.
    batch_size
        Crops or activation maps per model call.
    iterations
        Maximum NMF iterations.
    values_range
        The model's input range, to read a folder; None: the range recorded on the model.
    model_input_size
        (height, width), when the model's input size is unknown.

    Returns
    -------
    ConceptBank
        The sub-concepts at ``layer``, ranked by importance, labelled ``"<parent>.<i>"``;
        ``parent``, ``parent_layer`` and ``regions`` say where they come from, and
        ``importance_settings["target"]`` what their importance measures.

    Example
    -------
    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((16, 16, 3)),
    ...     keras.layers.Conv2D(6, 3, activation="relu", name="early"),
    ...     keras.layers.Conv2D(6, 3, activation="relu", name="late"),
    ...     keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    >>> images = np.random.default_rng(0).random((4, 32, 32, 3))
    >>> bank = discover(model, "late", images, class_index=1, rank=2, crops=8, designs=8)
    >>> sub = refine(bank, 0, model, "early", images, rank=2, regions=6, crops=4, designs=8)
    >>> sub.labels, sub.parent_layer, sub.importance_settings["target"]
    (['1.1', '1.2'], 'late', 'class logit')
    """
    if not isinstance(bank, ConceptBank):
        raise TypeError(
            f"Expected bank to be a ConceptBank (from discover). Received: {type(bank).__name__}"
        )
    concept = bounded_count(concept, "concept", 0, len(bank) - 1, f"{len(bank)} concepts")
    name, _ = _resolve_layer(model, layer)
    pictures = pictures_of(model, images, values_range, model_input_size)
    if len(pictures.array) <= int(bank.owners.max()):
        raise ValueError(
            f"Expected images to be the images the bank was found on "
            f"({int(bank.owners.max()) + 1} or more). Received: {len(pictures.array)} image(s)"
        )
    regions = bounded_count(regions, "regions", 1, len(bank.boxes), "the bank's crops")
    crops = bounded_count(crops, "crops", 1, None, "")
    top = bounded_count(top, "top", 1, None, "")
    batch_size = bounded_count(batch_size, "batch_size", 1, None, "")
    sides = crop_range(crop_size)
    designs = _power_of_two(designs)
    if target not in ("class", "parent"):
        raise ValueError(f'Expected target to be "class" or "parent". Received: target={target!r}')
    head_layer = class_layer_name(model, class_layer)

    chosen = np.argsort(-bank.coefficients[:, concept], kind="stable")[:regions]
    whole = Reader.of(model, name, pictures, batch_size)
    cut = whole.crops(bank.boxes[chosen], bank.owners[chosen]).numpy()
    reader = Reader.of(model, name, Pictures(cut, pictures.size, pictures.values_range), batch_size)
    factors, boxes, owners = _factorised(reader, name, rank, crops, sides, iterations, seed)
    function, what = _refine_target(model, name, head_layer, bank, concept, target)
    found = total_order(
        function, reader.whole(), factors.components, designs, seed, batch_size, target=what
    )
    record = {"function": "refine", "concept": concept, "layer": name}
    record.update(rank=int(factors.components.shape[0]), regions=regions, crops=crops)
    record.update(crop_size=list(sides), top=top, target=target, designs=designs, seed=seed)
    return _ranked(
        factors,
        found.indices,
        boxes,
        owners,
        top,
        reader,
        layer=name,
        class_index=bank.class_index,
        class_name=bank.class_name,
        importance_method="sobol",
        importance_error=found.error,
        importance_settings=found.record(),
        values_range=pictures.values_range,
        parent=bank.labels[concept],
        parent_layer=bank.layer,
        regions=chosen,
        settings=record,
    )


def _refine_target(model, layer, head_layer, bank, concept, target) -> tuple[Any, str]:
    """What the sub-concepts' importance measures: the class logit or the parent's presence."""
    if target == "class":
        return logit_of(model, layer, head_layer, bank.class_index), "class logit"
    return presence_of(model, layer, bank, concept), f"presence of concept {bank.labels[concept]}"


def presence_of(model: Any, layer: str, bank: ConceptBank, concept: int) -> Any:
    """``maps at layer -> coefficient of the bank's concept`` in the spatial mean of
    ``bank.layer``'s activations computed from them."""
    head = head_model(model, layer, bank.layer)

    def presence(maps: np.ndarray) -> np.ndarray:
        out = np.asarray(head(tf.constant(maps, tf.float32), training=False), np.float32)
        pooled = out.reshape(len(out), -1, out.shape[-1]).mean(axis=1)
        return project(pooled, bank.vectors)[:, concept]

    return presence


def _factorised(
    reader: Reader,
    layer: str,
    rank: Any,
    crops: int,
    sides: tuple[float, float],
    iterations: Any,
    seed: int,
) -> tuple[Factorization, np.ndarray, np.ndarray]:
    """NMF of the pooled activations of random crops of the reader's pictures."""
    rng = np.random.default_rng(seed)
    count = len(reader.pictures)
    boxes, owners = _sample_boxes(rng, reader.pictures.shape[1:3], count, crops, sides)
    activations = _pooled(reader.maps(boxes, owners), layer)
    smaller = min(activations.shape)
    rank = bounded_count(rank, "rank", 1, smaller, f"min(crops, channels) = {smaller}")
    return nmf(activations, rank, iterations=iterations, seed=seed), boxes, owners


def _importance_method(importance: Any) -> str:
    if importance not in ("sobol", "share"):
        raise ValueError(
            f'Expected importance to be "sobol" or "share". Received: importance={importance!r}'
        )
    return str(importance)


def _sample_boxes(
    rng: np.random.Generator,
    shape: tuple[int, int],
    images: int,
    crops: int,
    sides: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Square crops (in pixels) inside each image: normalised boxes and the owning image."""
    height, width = shape
    shorter = min(height, width)
    side = rng.uniform(*sides, size=images * crops) * shorter
    top = rng.uniform(0.0, 1.0, size=side.shape) * (height - side)
    left = rng.uniform(0.0, 1.0, size=side.shape) * (width - side)
    boxes = np.stack(
        [top / height, left / width, (top + side) / height, (left + side) / width], axis=1
    )
    return boxes.astype(np.float32), np.repeat(np.arange(images), crops)


def _pooled(maps: np.ndarray, layer: str) -> np.ndarray:
    """Each crop's activations averaged over its positions (or tokens): (crops, channels)."""
    activations = maps.reshape(len(maps), -1, maps.shape[-1]).mean(axis=1)
    if activations.min() < -1e-6:
        raise ValueError(
            f"Expected layer '{layer}' to have non-negative activations (NMF factorises "
            "non-negative data: choose a layer after a ReLU). Received: minimum activation "
            f"{activations.min():.3g}"
        )
    return np.maximum(activations, 0.0)


def _ranked(
    factors: Factorization,
    shares: np.ndarray,
    boxes: np.ndarray,
    owners: np.ndarray,
    top: int,
    reader: Reader,
    **identity: Any,
) -> ConceptBank:
    """The bank, concepts by decreasing importance, with the crops that express each most."""
    order = np.argsort(-shares, kind="stable")
    coefficients = factors.coefficients[:, order]
    best = np.argsort(-coefficients, axis=0, kind="stable")[: min(top, len(boxes))].T
    picked = best.reshape(-1)
    top_crops = reader.crops(boxes[picked], owners[picked]).numpy()
    error = identity.pop("importance_error")
    return ConceptBank(
        vectors=factors.components[order].astype(np.float32),
        importance_error=None if error is None else np.asarray(error, np.float64)[order],
        importance=shares[order].astype(np.float64),
        coefficients=coefficients.astype(np.float32),
        boxes=boxes,
        owners=owners,
        top=best,
        top_crops=top_crops.reshape(*best.shape, *top_crops.shape[1:]),
        error=factors.error,
        **identity,
    )
