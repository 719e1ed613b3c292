"""The engine: the front doors and the loop around the compiled step.

``objective + parameterization + settings -> compiled step -> Result``. :func:`maco`,
:func:`fourier` and :func:`pixel` choose a parameterization and hand their keywords to
:func:`visualize`, which resolves them once into :class:`xmaco.settings.RunSettings`, builds the
step (:mod:`xmaco._step`: image formation, transforms, model, gradients, update and
transparency in one ``tf.function``, traced once per run) and runs it. The Python loop only
reads the objective values, runs the callbacks and watches for Ctrl-C, running out of memory
and non-finite values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import presets
from ._run import Run, input_size_of, values_range_of
from .callbacks import Callback, CallbackList
from .devices import CPU_IN_FLIGHT, CPU_MICRO_BATCH, default_batch_size, micro_batches_in_flight
from .objectives import Objective
from .parameterizations import Fourier, Maco, Parameterization, Pixel
from .result import Result
from .settings import RunKeywords, RunSettings

if TYPE_CHECKING:  # Python >= 3.11; the annotations are not evaluated at run time
    from typing import Unpack

__all__ = [
    "maco",
    "fourier",
    "pixel",
    "visualize",
    "values_range_of",
    "input_size_of",
    "default_batch_size",
    "micro_batches_in_flight",
    "CPU_MICRO_BATCH",
    "CPU_IN_FLIGHT",
]


def maco(
    objective: Objective,
    *,
    spectrum: Any = None,
    phase: str | None = None,
    callbacks: Callback | list[Callback] | None = None,
    **settings: Unpack[RunKeywords],
) -> Result:
    """Visualize ``objective`` with MACO: optimise only the phase of a fixed-magnitude spectrum.

    The defaults are the preset ``"fast"``: 256 steps, 16 random crops a step shrinking from
    half the canvas side to a fifth, noise, Nadam with a learning rate decaying from 1.0 to 0.1,
    the phase drawn from N(0, 1) and standardised; judged by networks that did not make the
    pictures, it transferred better than ``preset="reference"``, the MACO authors' method (256
    steps of 32 crops, crops down to 5% of the side, constant rate 1.0), for half its model
    evaluations (:mod:`xmaco.presets`; the measurements: docs/benchmarks.md).

    Parameters
    ----------
    objective
        What to maximise (:class:`xmaco.Objective`); a batch objective gives a batch of
        visualizations optimised together.
    spectrum
        The fixed magnitude: None (natural default), a (C, H, W//2+1) array or a ``.npy`` path.
    phase
        ``"standardised"``: the phase is drawn from N(0, 1) and standardised at every step, as
        the MACO authors' implementations do; ``"uniform"``: drawn uniform on the circle and
        used as it is (see :class:`xmaco.parameterizations.Maco`). None: the preset's.
    callbacks
        :class:`xmaco.callbacks.Callback` objects (or a :class:`~xmaco.callbacks.CallbackList`).
    **settings
        The run's keywords (``steps``, ``crops``, ``image_size``, ``crop_size``,
        ``crop_padding``, ``noise``, ``transforms``, ``learning_rate``, ``optimizer``,
        ``values_range``, ``seed``, ``batch_size``, ``jit_compile``, ``mixed_precision``,
        ``strategy``, ``model_input_size``, ``verbose``, ``preset``), checked and resolved
        once by :class:`xmaco.settings.RunSettings`, which documents each.

    Returns
    -------
    Result
        Images (N, H, W, C) in the model's value range, transparency maps, history, names,
        and the whole configuration (``config``), the drawn seed included.

    Example
    -------
    >>> import keras, xmaco
    >>> inputs = keras.Input((32, 32, 3))
    >>> x = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(inputs)
    >>> model = keras.Model(inputs, x)
    >>> result = xmaco.maco(xmaco.Objective.channel(model, "conv", 1), steps=4, crops=2,
    ...                     image_size=64, seed=0)
    >>> result.images.shape, result.history.shape, result.config["preset"]
    ((1, 64, 64, 3), (4, 1), 'fast')
    """
    chosen = presets.get(settings.get("preset", presets.DEFAULT))
    parameterization = Maco(spectrum, chosen.phase if phase is None else phase)
    return visualize(objective, parameterization, callbacks=callbacks, **settings)


def fourier(
    objective: Objective,
    *,
    decay: float = 1.0,
    callbacks: Callback | list[Callback] | None = None,
    **settings: Unpack[RunKeywords],
) -> Result:
    """Visualize ``objective`` with the Fourier baseline (Olah et al. 2017).

    The whole complex spectrum is optimised, scaled by ``1 / f**decay``, in the decorrelated
    colour space, with the same crops, noise and steps as :func:`maco`; the optimizer is Adam
    at learning rate 0.05 (a preset's decay scales it).

    Parameters
    ----------
    objective
        What to maximise.
    decay
        The power of the 1/f scaling (1.0: natural-image-like).
    callbacks
        As in :func:`maco`.
    **settings
        As in :func:`maco`.

    Example
    -------
    >>> import keras, xmaco
    >>> model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3)])
    >>> xmaco.fourier(xmaco.Objective.layer(model, 0), steps=2, crops=1, image_size=32,
    ...               seed=0).config["method"]
    'fourier'
    """
    return visualize(objective, Fourier(decay), callbacks=callbacks, **settings)


def pixel(
    objective: Objective,
    *,
    callbacks: Callback | list[Callback] | None = None,
    **settings: Unpack[RunKeywords],
) -> Result:
    """Visualize ``objective`` by optimising the pixels directly (through a sigmoid).

    The simplest baseline, with the same crops, noise and steps as :func:`maco`; the optimizer
    is Adam at learning rate 0.05.

    Parameters
    ----------
    objective
        What to maximise.
    callbacks
        As in :func:`maco`.
    **settings
        As in :func:`maco`.

    Example
    -------
    >>> import keras, xmaco
    >>> model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3)])
    >>> xmaco.pixel(xmaco.Objective.layer(model, 0), steps=2, crops=None, image_size=16,
    ...             seed=0).images.shape
    (1, 16, 16, 3)
    """
    return visualize(objective, Pixel(), callbacks=callbacks, **settings)


def visualize(
    objective: Objective,
    parameterization: Parameterization,
    *,
    callbacks: Callback | list[Callback] | None = None,
    settings: RunSettings | None = None,
    **keywords: Unpack[RunKeywords],
) -> Result:
    """The one engine behind :func:`maco`, :func:`fourier` and :func:`pixel`.

    Parameters
    ----------
    objective
        What to maximise.
    parameterization
        Any :class:`xmaco.parameterizations.Parameterization`.
    callbacks
        As in :func:`maco`.
    settings
        Ready :class:`~xmaco.settings.RunSettings`; or give their keywords instead.
    **keywords
        The settings' keywords, as in :func:`maco`.

    Example
    -------
    >>> import keras, xmaco
    >>> from xmaco.parameterizations import Maco
    >>> model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3)])
    >>> visualize(xmaco.Objective.layer(model, 0), Maco(), steps=1, crops=1, image_size=32,
    ...           seed=3).seed
    3
    """
    _check_parts(objective, parameterization)
    if settings is None:
        settings = RunSettings.create(
            parameterization.default_learning_rate,
            parameterization.default_optimizer,
            **keywords,
        )
    elif keywords or not isinstance(settings, RunSettings):
        raise TypeError(
            "Expected settings to be an xmaco.settings.RunSettings, without other keywords. "
            f"Received: settings of type {type(settings).__name__} and {sorted(keywords)}"
        )
    return Run(objective, parameterization, settings, CallbackList(callbacks)).loop()


def _check_parts(objective: Any, parameterization: Any) -> None:
    if not isinstance(objective, Objective):
        raise TypeError(
            "Expected objective to be an xmaco.Objective (e.g. Objective.neuron(model, "
            f"'logits', 2)). Received: objective of type {type(objective).__name__}"
        )
    if not isinstance(parameterization, Parameterization):
        raise TypeError(
            "Expected parameterization to be an xmaco.parameterizations.Parameterization. "
            f"Received: {type(parameterization).__name__}"
        )
