"""Concepts of a class (CRAFT-style), their importance, and their MACO visualizations.

From images of one class, :func:`discover` takes many random crops, reads the activations of
a layer for each crop (averaged over the positions, or tokens, of the crop), and factorises
the (crops x channels) matrix with non-negative matrix factorisation (:func:`nmf`):
``A ~= U W``. Each row of ``W`` is a *concept*: a direction in the layer's channels that many
crops share; ``U`` says how much each crop expresses each concept. The concepts are ranked by
their importance for the class (see :func:`discover`), and :func:`visualize_concepts` shows
each direction with MACO, all in one batched run. :func:`write_page` puts it all on one
self-contained HTML page.
"""

from __future__ import annotations

import dataclasses
import html
import numbers
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import tensorflow as tf

from .engine import _input_size, maco, values_range_of
from .export import save_overlay, save_png
from .files import atomic_write, ensure_writable_dir
from .objectives import Objective, _resolve_layer
from .result import Result

__all__ = [
    "ConceptBank",
    "Factorization",
    "discover",
    "load_images",
    "nmf",
    "project",
    "visualize_concepts",
    "write_page",
]

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
_EPSILON = 1e-12
# HALS sweeps per factor and iteration: the two large products dominate an iteration, and
# further sweeps on them are nearly free (Gillis and Glineur, 2012).
_SWEEPS = 3


# ---------------------------------------------------------------------------- factorisation
@dataclasses.dataclass(frozen=True, eq=False)
class Factorization:
    """A non-negative factorisation ``matrix ~= coefficients @ components``.

    Attributes
    ----------
    coefficients
        (n, k) non-negative: how much each row of the matrix expresses each component.
    components
        (k, c) non-negative, each row of unit norm.
    errors
        The relative reconstruction error ``||A - U W||_F / ||A||_F`` after each iteration.

    Example
    -------
    >>> import numpy as np
    >>> f = nmf(np.random.default_rng(0).random((30, 8)), rank=3, seed=0)
    >>> f.coefficients.shape, f.components.shape, bool(f.errors[-1] < f.errors[0])
    ((30, 3), (3, 8), True)
    """

    coefficients: np.ndarray
    components: np.ndarray
    errors: np.ndarray

    @property
    def error(self) -> float:
        """The final relative reconstruction error."""
        return float(self.errors[-1])


def nmf(
    matrix: Any,
    rank: int,
    iterations: int = 500,
    tol: float = 1e-4,
    seed: int = 0,
) -> Factorization:
    """Non-negative matrix factorisation by hierarchical alternating least squares (HALS).

    Minimises ``||A - U W||_F`` over ``U >= 0`` (n, k) and ``W >= 0`` (k, c). Each iteration
    updates every row of ``W``, then every column of ``U``, each in closed form given the
    others (Cichocki and Phan, 2009), so the error never increases. An iteration costs two
    matrix products with ``A`` (``A^T U`` and ``A W^T``) plus a few cheap sweeps: 20000 x 1280
    at rank 10 converges in about 35 iterations, 4 to 5 seconds on two CPU cores (see
    docs/concepts.md).

    Parameters
    ----------
    matrix
        (n, c) non-negative, finite. float64 input is factorised in float64, anything else in
        float32.
    rank
        Number of components k, 1 <= k <= min(n, c).
    iterations
        Maximum number of iterations.
    tol
        Stop when an iteration lowers the relative error by less than ``tol`` times its value.
    seed
        Seed of the random non-negative start.

    Returns
    -------
    Factorization
        With ``components`` scaled to unit rows (``coefficients`` scaled to match).

    Example
    -------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> data = rng.random((200, 2)) @ rng.random((2, 16))
    >>> round(nmf(data, rank=2, seed=0).error, 3)
    0.0
    """
    a = _matrix(matrix)
    rank = _count(rank, "rank", 1, min(a.shape), f"min(n, c) = {min(a.shape)}")
    iterations = _count(iterations, "iterations", 1, None, "")
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not tol >= 0:
        raise ValueError(f"Expected tol to be a number >= 0. Received: tol={tol!r}")
    rng = np.random.default_rng(seed)
    scale = np.sqrt(max(float(a.mean()), _EPSILON) / rank)
    u = (rng.random((a.shape[0], rank)) * scale).astype(a.dtype)
    w = (rng.random((rank, a.shape[1])) * scale).astype(a.dtype)
    total = float(np.sum(np.square(a, dtype=np.float64)))
    errors: list[float] = []
    for _ in range(iterations):
        # (A^T U)^T rather than U^T A: the same product, several times faster in OpenBLAS
        _hals_rows(w, (a.T @ u).T, u.T @ u, _SWEEPS)
        # unit rows of W, the scale moves to U: keeps both factors balanced
        norms = np.maximum(np.linalg.norm(w, axis=1), _EPSILON)
        w /= norms[:, None]
        u *= norms[None, :]
        a_w = a @ w.T
        w_w = w @ w.T
        _hals_rows(u.T, a_w.T, w_w, _SWEEPS)
        errors.append(_relative_error(total, u, a_w, w_w))
        if len(errors) > 1 and errors[-2] - errors[-1] < tol * errors[-2]:
            break
    return Factorization(u, w, np.asarray(errors))


def project(matrix: Any, components: Any, iterations: int = 100) -> np.ndarray:
    """The non-negative coefficients of rows on fixed components (non-negative least squares).

    Solves ``min ||A - U W||_F`` over ``U >= 0`` for a fixed ``W``, by the same HALS updates
    as :func:`nmf`: how much of each concept new activations hold.

    Parameters
    ----------
    matrix
        (n, c) finite.
    components
        (k, c) non-negative, e.g. ``bank.vectors``.
    iterations
        Number of HALS sweeps.

    Returns
    -------
    numpy.ndarray
        (n, k) non-negative coefficients.

    Example
    -------
    >>> import numpy as np
    >>> project(np.array([[2.0, 3.0, 0.0]]), np.eye(3)[:2]).round(3)
    array([[2., 3.]])
    """
    a = _matrix(matrix, non_negative=False)
    w = np.asarray(components, dtype=a.dtype)
    if w.ndim != 2 or w.shape[1] != a.shape[1] or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(
            f"Expected components to be a finite non-negative (k, {a.shape[1]}) array. "
            f"Received: shape {np.shape(components)}"
        )
    iterations = _count(iterations, "iterations", 1, None, "")
    a_w = a @ w.T
    w_w = w @ w.T
    u = np.maximum(a_w, 0.0) / np.maximum(np.diag(w_w), _EPSILON)[None, :]
    for _ in range(iterations):
        _hals_rows(u.T, a_w.T, w_w)
    return u


def _hals_rows(x: np.ndarray, targets: np.ndarray, gram: np.ndarray, sweeps: int = 1) -> None:
    """HALS sweeps over the rows of ``x`` (k, m) in place: row j minimises
    ``||targets_j - sum_i gram_ji x_i||`` with the others fixed, clipped at zero."""
    for _ in range(sweeps):
        for j in range(x.shape[0]):
            step = (targets[j] - gram[j] @ x) / max(float(gram[j, j]), _EPSILON)
            np.maximum(x[j] + step, 0.0, out=x[j])


def _relative_error(total: float, u: np.ndarray, a_w: np.ndarray, w_w: np.ndarray) -> float:
    """``||A - U W|| / ||A||`` from ``||A||^2 - 2 <U, A W^T> + <U^T U, W W^T>``, without
    forming ``U W``."""
    cross = float(np.sum(u * a_w, dtype=np.float64))
    gram = float(np.sum((u.T @ u).astype(np.float64) * w_w))
    return float(np.sqrt(max(total - 2.0 * cross + gram, 0.0) / max(total, _EPSILON)))


# ---------------------------------------------------------------------------- concepts
@dataclasses.dataclass(frozen=True, eq=False)
class ConceptBank:
    """The concepts of one class at one layer, ranked by importance.

    Attributes
    ----------
    vectors
        (k, C) non-negative unit concept directions in the channels of ``layer``, by
        decreasing importance.
    importance
        (k,) each concept's share of the class logit, normalised so that the absolute values
        sum to 1 (negative: the concept speaks against the class). See :func:`discover`.
    coefficients
        (n, k) how much each crop expresses each concept (``activations ~= coefficients @
        vectors``).
    boxes
        (n, 4) the crops, normalised ``(y1, x1, y2, x2)`` in their image.
    owners
        (n,) the index of the image each crop comes from.
    top
        (k, m) indices of the crops that express each concept most, best first.
    top_crops
        (k, m, H, W, C) those crops, at the model's input size, in ``values_range``.
    layer
        The layer factorised.
    class_index
        The class.
    class_name
        Its name (ImageNet name for a 1000-class model), or ``"class <index>"``.
    importance_method
        ``"linear head"`` or ``"sensitivity"`` (see :func:`discover`).
    error
        Relative reconstruction error of the factorisation.
    values_range
        (low, high) of the model input.

    Example
    -------
    >>> import keras, numpy as np
    >>> inputs = keras.Input((16, 16, 3))
    >>> x = keras.layers.Conv2D(6, 3, activation="relu", name="features")(inputs)
    >>> x = keras.layers.GlobalAveragePooling2D()(x)
    >>> model = keras.Model(inputs, keras.layers.Dense(2, name="logits")(x))
    >>> images = np.random.default_rng(0).random((4, 32, 32, 3))
    >>> bank = discover(model, "features", images, class_index=1, rank=2, crops=8, top=3)
    >>> bank.vectors.shape, bank.top_crops.shape, bank.importance_method
    ((2, 6), (2, 3, 16, 16, 3), 'linear head')
    """

    vectors: np.ndarray
    importance: np.ndarray
    coefficients: np.ndarray
    boxes: np.ndarray
    owners: np.ndarray
    top: np.ndarray
    top_crops: np.ndarray
    layer: str
    class_index: int
    class_name: str
    importance_method: str
    error: float
    values_range: tuple[float, float]

    def __len__(self) -> int:
        return int(self.vectors.shape[0])


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
) -> ConceptBank:
    """Find the concepts a class relies on at ``layer`` and rank them by importance.

    1. ``crops`` random square crops per image, of side ``crop_size`` (a fraction of the
       image's shorter side, or a (low, high) range drawn uniformly), each resized to the model
       input; the activations of ``layer`` for each crop are averaged over its positions (or
       tokens): one row of C channels per crop. The layer must be non-negative (e.g. after a
       ReLU).
    2. :func:`nmf` of the (crops x C) matrix at ``rank``: the concept directions.
    3. The importance of each concept for the class, measured on the whole images:

       - **linear head**: when the class logit is an affine function of the spatial mean of
         the layer (global average pooling then a Dense layer, the usual classifier head;
         checked numerically), ``logit = w . mean(a) + b`` and ``mean(a) ~= sum_k U_k v_k``,
         so concept k contributes ``U_k (v_k . w)``. Its importance is the mean of that
         contribution over the images, divided by the sum of the absolute contributions.
       - **sensitivity** otherwise: each concept is removed from the activations of every
         position (``a - U_k(position) v_k``, with ``U`` the non-negative projection of the
         position on the concepts) and the drop of the class logit, averaged over the images,
         is normalised in the same way.

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

    Returns
    -------
    ConceptBank
        The concepts ranked by decreasing importance.

    Example
    -------
    >>> import keras, numpy as np
    >>> inputs = keras.Input((16, 16, 3))
    >>> x = keras.layers.Conv2D(6, 3, activation="relu", name="features")(inputs)
    >>> x = keras.layers.GlobalAveragePooling2D()(x)
    >>> model = keras.Model(inputs, keras.layers.Dense(2, name="logits")(x))
    >>> images = np.random.default_rng(0).random((4, 32, 32, 3))
    >>> bank = discover(model, "features", images, class_index=0, rank=3, crops=8)
    >>> len(bank), round(float(np.abs(bank.importance).sum()), 6)
    (3, 1.0)
    """
    name, _ = _resolve_layer(model, layer)
    size = _input_size(model, model_input_size)
    low, high = _range(values_range, model)
    if isinstance(images, (str, os.PathLike)):
        images = load_images(images, (2 * size[0], 2 * size[1]), (low, high), _channels(model))
    pictures = _pictures(images, _channels(model))
    crops = _count(crops, "crops", 1, None, "")
    top = _count(top, "top", 1, None, "")
    batch_size = _count(batch_size, "batch_size", 1, None, "")
    sides = _crop_range(crop_size)
    head_layer = _class_layer(model, class_layer)
    classes = int(np.prod(model.get_layer(head_layer).output.shape[1:]))
    index, class_name = _class(class_index, classes)

    features = _model(model, [name])
    rng = np.random.default_rng(seed)
    boxes, owners = _sample_boxes(rng, pictures.shape[1:3], len(pictures), crops, sides)
    maps = _run(features, pictures, boxes, owners, size, batch_size)
    activations = maps.reshape(len(maps), -1, maps.shape[-1]).mean(axis=1)
    if activations.min() < -1e-6:
        raise ValueError(
            f"Expected layer '{name}' to have non-negative activations (NMF factorises "
            "non-negative data: choose a layer after a ReLU). Received: minimum activation "
            f"{activations.min():.3g}"
        )
    activations = np.maximum(activations, 0.0)
    rank = _count(
        rank, "rank", 1, min(activations.shape), f"min(crops, channels) = {min(activations.shape)}"
    )
    factors = nmf(activations, rank, iterations=iterations, seed=seed)

    whole = np.tile([[0.0, 0.0, 1.0, 1.0]], [len(pictures), 1]).astype(np.float32)
    image_maps = _run(features, pictures, whole, np.arange(len(pictures)), size, batch_size)
    weights = _linear_head(model, name, head_layer, index, image_maps.shape[1:], seed)
    if weights is not None:
        pooled = image_maps.reshape(len(pictures), -1, image_maps.shape[-1]).mean(axis=1)
        amounts = project(np.maximum(pooled, 0.0), factors.components)
        contribution = amounts.mean(axis=0) * (factors.components @ weights)
        method = "linear head"
    else:
        contribution = _sensitivity(model, name, head_layer, index, image_maps, factors)
        method = "sensitivity"
    importance = contribution / max(float(np.abs(contribution).sum()), _EPSILON)

    order = np.argsort(-importance, kind="stable")
    coefficients = factors.coefficients[:, order]
    best = np.argsort(-coefficients, axis=0, kind="stable")[: min(top, len(boxes))].T
    picked = best.reshape(-1)
    top_crops = _crop(pictures, boxes[picked], owners[picked], size).numpy()
    return ConceptBank(
        vectors=factors.components[order].astype(np.float32),
        importance=importance[order].astype(np.float64),
        coefficients=coefficients.astype(np.float32),
        boxes=boxes,
        owners=owners,
        top=best,
        top_crops=top_crops.reshape(*best.shape, *top_crops.shape[1:]),
        layer=name,
        class_index=index,
        class_name=class_name,
        importance_method=method,
        error=factors.error,
        values_range=(low, high),
    )


def visualize_concepts(
    bank: ConceptBank, model: Any, cossim_pow: float = 2.0, **keywords: Any
) -> Result:
    """Visualize every concept direction of a bank with MACO, in one batched run.

    The objective is ``Objective.direction(model, bank.layer, bank.vectors, cossim_pow)``:
    visualization ``i`` shows concept ``i`` (ranked by importance).

    Parameters
    ----------
    bank
        From :func:`discover`.
    model
        The model the bank was found on.
    cossim_pow
        Power of the cosine in the direction objective.
    **keywords
        Any keyword of :func:`xmaco.maco` (``steps``, ``crops``, ``image_size``, ``seed``...).

    Returns
    -------
    Result
        Names ``"<class name> concept <i>"`` (from 1); ``config["concepts"]`` records the
        layer, class and importances.

    Example
    -------
    >>> import keras, numpy as np
    >>> inputs = keras.Input((16, 16, 3))
    >>> x = keras.layers.Conv2D(6, 3, activation="relu", name="features")(inputs)
    >>> x = keras.layers.GlobalAveragePooling2D()(x)
    >>> model = keras.Model(inputs, keras.layers.Dense(2, name="logits")(x))
    >>> images = np.random.default_rng(0).random((4, 32, 32, 3))
    >>> bank = discover(model, "features", images, class_index=1, rank=2, crops=8)
    >>> visualize_concepts(bank, model, steps=2, crops=2, image_size=32, seed=0).names
    ['class 1 concept 1', 'class 1 concept 2']
    """
    if not isinstance(bank, ConceptBank):
        raise TypeError(
            f"Expected bank to be a ConceptBank (from discover). Received: {type(bank).__name__}"
        )
    objective = Objective.direction(model, bank.layer, bank.vectors, cossim_pow)
    result = maco(objective, **keywords)
    names = [f"{bank.class_name} concept {i + 1}" for i in range(len(bank))]
    record = {
        "layer": bank.layer,
        "class_index": bank.class_index,
        "class_name": bank.class_name,
        "importance": [round(float(v), 6) for v in bank.importance],
        "importance_method": bank.importance_method,
    }
    return dataclasses.replace(result, names=names, config={**result.config, "concepts": record})


def write_page(
    directory: str | os.PathLike, bank: ConceptBank, result: Result, title: str | None = None
) -> Path:
    """Write a self-contained HTML page of a class's concepts, ranked by importance.

    For each concept: its MACO visualization, the visualization with its transparency
    overlay, and its top crops, written as PNGs beside ``index.html`` and linked relatively
    (the folder can be moved or served as is; the style is inline).

    Parameters
    ----------
    directory
        Created if needed.
    bank
        From :func:`discover`.
    result
        From :func:`visualize_concepts` on ``bank`` (one visualization per concept).
    title
        Page title; default ``"Concepts of <class name>"``.

    Returns
    -------
    pathlib.Path
        The ``index.html`` written.

    Example
    -------
    >>> import keras, numpy as np, tempfile
    >>> inputs = keras.Input((16, 16, 3))
    >>> x = keras.layers.Conv2D(6, 3, activation="relu", name="features")(inputs)
    >>> x = keras.layers.GlobalAveragePooling2D()(x)
    >>> model = keras.Model(inputs, keras.layers.Dense(2, name="logits")(x))
    >>> images = np.random.default_rng(0).random((4, 32, 32, 3))
    >>> bank = discover(model, "features", images, class_index=1, rank=2, crops=8, top=2)
    >>> result = visualize_concepts(bank, model, steps=2, crops=2, image_size=32, seed=0)
    >>> write_page(tempfile.mkdtemp(), bank, result).name
    'index.html'
    """
    if not isinstance(bank, ConceptBank):
        raise TypeError(
            f"Expected bank to be a ConceptBank (from discover). Received: {type(bank).__name__}"
        )
    if not isinstance(result, Result) or len(result) != len(bank):
        raise ValueError(
            f"Expected result to be the Result of visualize_concepts on this bank ({len(bank)} "
            f"visualizations). Received: {type(result).__name__} of length "
            f"{len(result) if isinstance(result, Result) else 'n/a'}"
        )
    directory = ensure_writable_dir(directory, argument="directory")
    title = title or f"Concepts of {bank.class_name}"
    cards = []
    for i in range(len(bank)):
        stem = f"concept_{i + 1:02d}"
        image = save_png(directory / f"{stem}.png", result.images[i], result.values_range)
        overlay = save_overlay(directory / f"{stem}_overlay.png", result, index=i)
        crops = [
            save_png(directory / f"{stem}_crop_{j + 1}.png", crop, bank.values_range)
            for j, crop in enumerate(bank.top_crops[i])
        ]
        strip = "\n".join(
            f'<img class="crop" src="{_href(path)}" alt="crop {j + 1} of concept {i + 1}">'
            for j, path in enumerate(crops)
        )
        cards.append(
            f"""<section class="concept">
<h2>Concept {i + 1} <span class="share">importance {bank.importance[i]:+.1%}</span></h2>
<div class="row">
<figure><img src="{_href(image)}" alt="MACO visualization of concept {i + 1}">
<figcaption>MACO visualization</figcaption></figure>
<figure><img src="{_href(overlay)}" alt="visualization and transparency of concept {i + 1}">
<figcaption>with its transparency</figcaption></figure>
</div>
<p>Crops that express it most:</p>
<div class="crops">
{strip}
</div>
</section>"""
        )
    details = (
        f"layer <code>{html.escape(bank.layer)}</code>, class {bank.class_index}, "
        f"{len(bank)} concepts from {len(bank.boxes)} crops (NMF relative error "
        f"{bank.error:.3f}), importance by {html.escape(bank.importance_method)}; "
        f"{result.config.get('method', 'maco')} visualizations, "
        f"{len(result.history)} steps, seed {result.seed}"
    )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<p class="details">{details}</p>
{"".join(cards)}
</body>
</html>
"""
    path = directory / "index.html"
    with atomic_write(path, "w") as handle:
        handle.write(page)
    return path


def load_images(
    folder: str | os.PathLike,
    size: int | tuple[int, int],
    values_range: tuple[float, float] = (0.0, 1.0),
    channels: int = 3,
) -> np.ndarray:
    """Read every image file of a folder: resized to cover ``size``, centre-cropped, scaled.

    Parameters
    ----------
    folder
        A folder of ``.jpg``, ``.jpeg``, ``.png``, ``.bmp``, ``.webp`` or ``.tif`` files (other
        files are ignored), read in name order.
    size
        (height, width) of every output image (an int for a square): each image is resized,
        keeping its aspect, to cover it, then its centre is cut out.
    values_range
        Pixel values 0..255 map linearly to (low, high).
    channels
        3 (RGB) or 1 (grey).

    Returns
    -------
    numpy.ndarray
        float32 (N, height, width, channels).

    Example
    -------
    >>> import cv2, numpy as np, tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> _ = cv2.imwrite(os.path.join(folder, "a.png"), np.zeros((30, 40, 3), np.uint8))
    >>> load_images(folder, 16, (-1.0, 1.0)).shape
    (1, 16, 16, 3)
    """
    import cv2

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(
            f"Expected images to be an array or a folder of images. Received: '{folder}' "
            "(not a folder)"
        )
    height, width = (size, size) if isinstance(size, numbers.Integral) else size
    low, high = (float(v) for v in values_range)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
    if not files:
        raise ValueError(
            f"Expected a folder holding image files ({', '.join(_IMAGE_SUFFIXES)}). Received: "
            f"'{folder}' (none found)"
        )
    out = np.zeros((len(files), height, width, channels), np.float32)
    for i, file in enumerate(files):
        pixels = cv2.imread(str(file), cv2.IMREAD_GRAYSCALE if channels == 1 else cv2.IMREAD_COLOR)
        if pixels is None:
            raise ValueError(f"Expected a readable image file. Received: '{file}'")
        pixels = pixels[..., None] if channels == 1 else pixels[..., ::-1]
        scale = max(height / pixels.shape[0], width / pixels.shape[1])
        shape = (
            max(width, round(pixels.shape[1] * scale)),
            max(height, round(pixels.shape[0] * scale)),
        )
        resized = cv2.resize(pixels, shape, interpolation=cv2.INTER_AREA).reshape(
            shape[1], shape[0], channels
        )
        top, left = (shape[1] - height) // 2, (shape[0] - width) // 2
        out[i] = resized[top : top + height, left : left + width] / 255.0
    return low + (high - low) * out


# ---------------------------------------------------------------------------- helpers
def _matrix(matrix: Any, non_negative: bool = True) -> np.ndarray:
    try:
        a = np.asarray(matrix)
    except (TypeError, ValueError):
        a = np.zeros(0)
    if a.ndim != 2 or min(a.shape) == 0 or not np.issubdtype(a.dtype, np.number):
        raise ValueError(
            f"Expected matrix to be a non-empty 2-D numeric array. Received: shape {np.shape(a)}"
        )
    a = a.astype(np.float64 if a.dtype == np.float64 else np.float32)
    if not np.all(np.isfinite(a)) or (non_negative and a.min() < 0):
        raise ValueError(
            "Expected matrix to be finite"
            + (" and non-negative" if non_negative else "")
            + f". Received: values in [{a.min():.3g}, {a.max():.3g}]"
        )
    return a


def _count(value: Any, argument: str, low: int, high: int | None, what: str) -> int:
    valid = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not valid or value < low or (high is not None and value > high):
        bound = f"an integer >= {low}" + (f" and <= {high} ({what})" if high is not None else "")
        raise ValueError(f"Expected {argument} to be {bound}. Received: {argument}={value!r}")
    return int(value)


def _channels(model: Any) -> int:
    return int(model.inputs[0].shape[-1])


def _range(values_range: Any, model: Any) -> tuple[float, float]:
    chosen = values_range if values_range is not None else values_range_of(model) or (0.0, 1.0)
    try:
        low, high = (float(v) for v in chosen)
    except (TypeError, ValueError):
        low, high = 0.0, -1.0
    if not low < high:
        raise ValueError(
            "Expected values_range to be a (low, high) pair with low < high. Received: "
            f"values_range={values_range!r}"
        )
    return low, high


def _pictures(images: Any, channels: int) -> np.ndarray:
    try:
        pictures = np.asarray(images, dtype=np.float32)
    except (TypeError, ValueError):
        pictures = np.zeros(0)
    if pictures.ndim != 4 or pictures.shape[-1] != channels or min(pictures.shape) == 0:
        raise ValueError(
            f"Expected images to be a folder or an array (N, H, W, {channels}). Received: "
            f"shape {np.shape(pictures)}"
        )
    if not np.all(np.isfinite(pictures)):
        raise ValueError("Expected images to be finite. Received: NaN or Inf values")
    return pictures


def _crop_range(crop_size: Any) -> tuple[float, float]:
    pair = (crop_size, crop_size) if isinstance(crop_size, numbers.Real) else crop_size
    try:
        low, high = (float(v) for v in pair)
    except (TypeError, ValueError):
        low, high = 0.0, 0.0
    if isinstance(crop_size, bool) or not 0.0 < low <= high <= 1.0:
        raise ValueError(
            "Expected crop_size to be a fraction in (0, 1] or a (low, high) range of them. "
            f"Received: crop_size={crop_size!r}"
        )
    return low, high


def _class_layer(model: Any, class_layer: Any) -> str:
    if class_layer is None:
        return model.layers[-1].name
    name, _ = _resolve_layer(model, class_layer)
    return name


def _class(class_index: Any, classes: int) -> tuple[int, str]:
    if isinstance(class_index, str):
        from .zoo import class_index as imagenet_index

        index = imagenet_index(class_index)
    elif isinstance(class_index, numbers.Integral) and not isinstance(class_index, bool):
        index = int(class_index)
    else:
        raise TypeError(
            "Expected class_index to be an int or an ImageNet class name. Received: "
            f"class_index={class_index!r}"
        )
    if not 0 <= index < classes:
        raise ValueError(
            f"Expected class_index to be in [0, {classes - 1}] (the class layer's units). "
            f"Received: class_index={class_index!r}"
        )
    if classes == 1000:
        from .zoo import imagenet_classes

        return index, str(imagenet_classes()[index])
    return index, f"class {index}"


def _model(model: Any, layers: Sequence[str]) -> Any:
    import keras

    outputs = [model.get_layer(name).output for name in layers]
    return keras.Model(model.inputs[0], outputs[0] if len(outputs) == 1 else outputs)


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


def _crop(pictures: np.ndarray, boxes: np.ndarray, owners: np.ndarray, size) -> tf.Tensor:
    return tf.image.crop_and_resize(
        tf.constant(pictures), tf.constant(boxes), tf.constant(owners, tf.int32), size
    )


def _run(features, pictures, boxes, owners, size, batch_size) -> np.ndarray:
    """The layer's activations for every crop, batch by batch."""
    parts = []
    for start in range(0, len(boxes), batch_size):
        rows = slice(start, start + batch_size)
        batch = _crop(pictures, boxes[rows], owners[rows], size)
        parts.append(np.asarray(features(batch, training=False), np.float32))
    return np.concatenate(parts)


def _head(model: Any, layer: str, head_layer: str) -> Any:
    import keras

    try:
        return keras.Model(model.get_layer(layer).output, model.get_layer(head_layer).output)
    except ValueError as error:
        raise ValueError(
            f"Expected class_layer '{head_layer}' to be computed from layer '{layer}'. "
            f"Received: no path between them ({error})"
        ) from None


def _linear_head(model, layer, head_layer, index, shape, seed) -> np.ndarray | None:
    """The class weights ``w`` (C,) when ``logit = w . mean(a) + b``, else None.

    Checked on the gradient: it must be the same at two random points (affine) and at every
    position (a function of the spatial mean only)."""
    head = _head(model, layer, head_layer)
    rng = np.random.default_rng(seed)
    gradients = []
    for _ in range(2):
        point = tf.constant(rng.random((1, *shape)).astype(np.float32))
        with tf.GradientTape() as tape:
            tape.watch(point)
            logit = tf.reshape(head(point, training=False), [-1])[index]
        gradients.append(tape.gradient(logit, point).numpy()[0].reshape(-1, shape[-1]))
    first, second = gradients
    scale = float(np.abs(first).max()) + _EPSILON
    same_everywhere = np.abs(first - first.mean(axis=0)).max() <= 1e-4 * scale
    if np.abs(first - second).max() <= 1e-4 * scale and same_everywhere:
        return first.sum(axis=0).astype(np.float64)
    return None


def _sensitivity(model, layer, head_layer, index, maps, factors) -> np.ndarray:
    """Mean drop of the class logit when each concept is removed from every position."""
    head = _head(model, layer, head_layer)
    positions = maps.reshape(len(maps), -1, maps.shape[-1])
    vectors = factors.components

    def logits(batch: np.ndarray) -> np.ndarray:
        out = head(tf.constant(batch.reshape(maps.shape).astype(np.float32)), training=False)
        return np.asarray(out).reshape(len(batch), -1)[:, index]

    amounts = project(np.maximum(positions.reshape(-1, maps.shape[-1]), 0.0), vectors)
    amounts = amounts.reshape(len(maps), positions.shape[1], -1)
    base = logits(positions)
    drops = np.zeros(len(vectors))
    for k in range(len(vectors)):
        removed = positions - amounts[:, :, k : k + 1] * vectors[k][None, None, :]
        drops[k] = float(np.mean(base - logits(removed)))
    return drops


def _href(path: Path) -> str:
    return quote(path.name)


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; background: #fafafa; }
h1 { font-size: 1.4rem; }
.details { color: #555; }
.concept { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 0.8rem;
  margin-bottom: 1rem; }
.concept h2 { font-size: 1.1rem; margin: 0 0 0.5rem; }
.share { color: #555; font-weight: normal; margin-left: 0.6rem; }
.row { display: flex; gap: 1rem; flex-wrap: wrap; }
figure { margin: 0; }
figure img { height: 256px; }
figcaption { color: #666; font-size: 0.85rem; }
.crops img { width: 112px; height: 112px; margin: 0 0.3rem 0.3rem 0; }
"""
