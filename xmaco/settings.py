"""The settings of one run, in one place: every keyword checked once, the preset resolved.

:class:`RunSettings` is what :func:`xmaco.maco`, :func:`xmaco.fourier`, :func:`xmaco.pixel`,
:func:`xmaco.visualize`, :func:`xmaco.invert` and the command line build from their keywords
(:meth:`RunSettings.create`), and what the engine runs. It is frozen, it holds only resolved
values (the preset's where the caller gave none, a drawn seed when none was given), and it
describes itself into ``Result.config`` (:meth:`RunSettings.describe`), so that a run can be
read back and repeated.
"""

from __future__ import annotations

import dataclasses
import difflib
import numbers
from collections.abc import Sequence
from typing import Any, TypedDict

import numpy as np

from . import presets, schedules
from ._checks import check_count, check_flag
from .presets import FROM_PRESET
from .transforms import Crops, Noise, Resize, Transform, check_transforms

__all__ = ["RunSettings", "RunKeywords", "KEYWORDS"]


class RunKeywords(TypedDict, total=False):
    """The keywords every front door takes (see :class:`RunSettings` for their meaning).

    Example
    -------
    >>> keywords: RunKeywords = {"steps": 64, "crops": 16, "seed": 0}
    >>> RunSettings.create(**keywords).steps
    64
    """

    steps: int | None
    crops: int | None
    image_size: int | tuple[int, int]
    crop_size: Any
    crop_padding: bool
    crop_spread: float | None
    noise: Any
    transforms: Sequence[Transform] | None
    learning_rate: Any
    optimizer: Any
    values_range: tuple[float, float] | None
    seed: int | None
    batch_size: int | None
    jit_compile: bool
    mixed_precision: bool
    strategy: Any
    model_input_size: int | tuple[int, int] | None
    verbose: bool | None
    preset: str


#: Every keyword of :class:`RunKeywords`, in the order the docs list them.
KEYWORDS: tuple[str, ...] = tuple(RunKeywords.__annotations__)
#: The keywords that make the default transforms; ``transforms=`` replaces them all.
_TRANSFORM_KEYWORDS = ("crops", "crop_size", "crop_padding", "crop_spread", "noise")


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """How one run goes: resolved, checked, immutable.

    Build it with :meth:`create` (from keywords, a preset filling in what is not given), or
    let the front doors build it. Fields:

    Parameters
    ----------
    steps
        Optimisation steps (>= 1): 256 with both presets (``"fast"``, the default, takes 16 crops
        a step, ``"reference"`` 32).
    transforms
        What each step shows the model, in order (:mod:`xmaco.transforms`): by default
        ``Crops(crops, crop_size, crop_padding, crop_spread)`` then ``Noise(noise)``, built from
        the keywords ``crops`` (random crops of the canvas per visualization and step, resized
        to the model input; None: the whole canvas once), ``crop_size`` (the crop side as a
        fraction of the canvas' shorter side, a number or a schedule; None: the preset's,
        shrinking linearly over the run), ``crop_padding`` (crops may reach outside the
        canvas, reading zeros there, as in Xplique's ``maco()``), ``crop_spread`` (the
        standard deviation of the crop centres around the canvas centre, a fraction of its
        side; None: the preset's) and ``noise`` (the noise scale, a fraction of half the value
        range: number or schedule).
        Giving ``transforms=[...]`` replaces all five.
    image_size
        Canvas (height, width); an int makes it square.
    learning_rate
        The learning-rate schedule the engine drives; None when a Keras optimizer instance
        keeps its own. Default: the preset's decay (``"fast"``: a half-cosine from 1 to 0.1
        times the parameterization's rate) or the parameterization's constant rate.
    optimizer
        ``"nadam"``, ``"adam"``, ``"sgd"``, ``"rmsprop"`` or a fresh Keras optimizer; None:
        the parameterization's (Nadam for MACO).
    values_range
        (low, high) of the model's input values; None: the model's recorded range
        (``model.xmaco_values_range``) or (0, 1).
    seed
        Base seed: visualization ``i`` uses ``seed + i``. Given None, one is drawn here and
        recorded, so the run can be repeated.
    batch_size
        Images per model call: a step's crops go through the model in micro-batches of at most
        this size, gradients accumulated (bounded memory, same result). None: the device's
        default (:func:`xmaco.engine.default_batch_size`).
    jit_compile
        Compile the model's forward and backward pass of each step with XLA.
    mixed_precision
        Run the model in bfloat16 (a copy of it; the layers the objective reads stay float32).
    strategy
        A ``tf.distribute.Strategy`` to split each step's crops over its replicas; None: the
        current device.
    model_input_size
        (height, width) the crops are resized to; None: the model's input size.
    verbose
        Show a progress bar; None shows it when stderr is a terminal.
    preset
        The name of the preset that filled in the defaults (:mod:`xmaco.presets`).

    Example
    -------
    >>> from xmaco.settings import RunSettings
    >>> settings = RunSettings.create(preset="fast", seed=0)
    >>> settings.steps, settings.crops, settings.describe()["crop_size"]["end"]
    (256, 16, 0.2)
    >>> RunSettings.create(stpes=10)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: Expected keywords among steps, crops, ... Received: stpes. Did you mean 'steps'?
    """

    steps: int
    transforms: tuple[Transform, ...]
    image_size: tuple[int, int]
    learning_rate: schedules.Schedule | None
    optimizer: Any
    seed: int
    preset: str
    values_range: tuple[float, float] | None = None
    batch_size: int | None = None
    jit_compile: bool = False
    mixed_precision: bool = False
    strategy: Any = None
    model_input_size: tuple[int, int] | None = None
    verbose: bool | None = None

    @classmethod
    def create(
        cls,
        default_learning_rate: float = 1.0,
        default_optimizer: str = "nadam",
        **keywords: Any,
    ) -> RunSettings:
        """Settings from the keywords of :class:`RunKeywords`, the preset filling in the rest.

        ``default_learning_rate`` and ``default_optimizer`` are the parameterization's (the
        engine passes them).
        """
        _check_names(keywords)
        given = dict(keywords)
        chosen = presets.get(given.pop("preset", presets.DEFAULT))
        steps = given.pop("steps", None)
        steps = check_count(chosen.steps if steps is None else steps, "steps", 1)
        rate, optimizer = given.pop("learning_rate", None), given.pop("optimizer", None)
        if _is_keras_optimizer(optimizer):
            rate = None  # a Keras optimizer instance keeps its own learning rate
        elif rate is None:
            rate = chosen.rate(steps, None, default_learning_rate)
            rate = default_learning_rate if rate is None else rate
        jit_compile = check_flag(given.get("jit_compile", False), "jit_compile")
        return cls(
            steps=steps,
            transforms=_transforms(given, chosen, steps),
            image_size=_size(given.get("image_size", 512), "image_size", minimum=8),
            learning_rate=None
            if rate is None
            else schedules.as_schedule(rate, "learning_rate", 0.0, None),
            optimizer=_optimizer_name(optimizer, default_optimizer),
            seed=_seed(given.get("seed")),
            preset=chosen.name,
            values_range=_values_range(given.get("values_range")),
            batch_size=_optional_count(given.get("batch_size"), "batch_size"),
            jit_compile=jit_compile,
            mixed_precision=check_flag(given.get("mixed_precision", False), "mixed_precision"),
            strategy=_strategy(given.get("strategy"), jit_compile),
            model_input_size=_optional_size(given.get("model_input_size")),
            verbose=given.get("verbose"),
        )

    @property
    def crops(self) -> int | None:
        """Crops per visualization and step (None: the whole canvas, once)."""
        counts = [t.count for t in self.transforms if isinstance(t, Crops)]
        return counts[0] if counts else None

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly description, recorded in ``Result.config``.

        Example
        -------
        >>> RunSettings.create(steps=4, crops=None, seed=1).describe()["crops"] is None
        True
        """
        described = [t.describe() if hasattr(t, "describe") else repr(t) for t in self.transforms]
        crops = next((t for t in self.transforms if isinstance(t, Crops)), None)
        noise = next((t for t in self.transforms if isinstance(t, Noise)), None)
        return {
            "preset": self.preset,
            "steps": self.steps,
            "crops": self.crops,
            "image_size": list(self.image_size),
            "crop_size": None if crops is None else schedules.describe(crops.size),
            "crop_padding": bool(crops is not None and crops.padding),
            "crop_spread": None if crops is None else crops.spread,
            "noise": None if noise is None else schedules.describe(noise.scale),
            "transforms": described,
            "learning_rate": None
            if self.learning_rate is None
            else schedules.describe(self.learning_rate),
            "seed": self.seed,
            "jit_compile": self.jit_compile,
            "mixed_precision": self.mixed_precision,
        }


def _check_names(keywords: dict[str, Any]) -> None:
    unknown = [name for name in keywords if name not in KEYWORDS]
    if unknown:
        close = difflib.get_close_matches(unknown[0], KEYWORDS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise TypeError(
            f"Expected keywords among {', '.join(KEYWORDS)}. Received: {', '.join(unknown)}." + hint
        )


def _transforms(keywords: dict[str, Any], chosen: presets.Preset, steps: int) -> tuple:
    """The given transforms (their crop sizes filled in from the preset), or the default ones."""
    crop_size = chosen.crop_size(steps)
    if keywords.get("transforms") is not None:
        mixed = [name for name in _TRANSFORM_KEYWORDS if name in keywords]
        if mixed:
            raise ValueError(
                "Expected either transforms=[...] or the keywords crops, crop_size, crop_padding, "
                f"crop_spread and noise, not both. Received: transforms and {', '.join(mixed)}"
            )
        return check_transforms(keywords["transforms"], crop_size)
    crops = keywords.get("crops", FROM_PRESET)
    crops = chosen.crops if crops is FROM_PRESET else crops
    if crops is None:
        made: list[Transform] = [Resize()]
    else:
        spread = keywords.get("crop_spread")
        made = [
            Crops(
                crops,
                keywords.get("crop_size"),
                keywords.get("crop_padding", False),
                chosen.crop_spread if spread is None else spread,
            )
        ]
    made.append(Noise(keywords.get("noise", 0.08)))
    return check_transforms(made, crop_size)


def _is_keras_optimizer(optimizer: Any) -> bool:
    return optimizer is not None and not isinstance(optimizer, str)


def _optimizer_name(optimizer: Any, default: str) -> Any:
    if optimizer is None:
        return default
    if isinstance(optimizer, str):
        if optimizer.lower() not in OPTIMIZERS:
            raise ValueError(
                f"Expected optimizer to be one of {sorted(OPTIMIZERS)} or a keras optimizer. "
                f"Received: optimizer={optimizer!r}"
            )
        return optimizer.lower()
    import keras

    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise TypeError(
            "Expected optimizer to be None, a name or a keras.optimizers.Optimizer. Received: "
            f"{type(optimizer).__name__}"
        )
    if optimizer.built:
        raise ValueError(
            "Expected optimizer to be a fresh (unbuilt) keras optimizer: its state would leak "
            f"from a previous run. Received: a built {type(optimizer).__name__}"
        )
    return optimizer


#: The optimizers known by name, and their Keras class names.
OPTIMIZERS = {"nadam": "Nadam", "adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop"}


def _size(value: Any, argument: str, minimum: int = 1) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, numbers.Integral) else value
    try:
        height, width = pair
    except (TypeError, ValueError):
        raise ValueError(
            f"Expected {argument} to be an int or a (height, width) pair. Received: "
            f"{argument}={value!r}"
        ) from None
    for side in (height, width):
        if isinstance(side, bool) or not isinstance(side, numbers.Integral) or side < minimum:
            raise ValueError(
                f"Expected {argument} to be an int >= {minimum} or a (height, width) pair of "
                f"them. Received: {argument}={value!r}"
            )
    return int(height), int(width)


def _optional_size(value: Any) -> tuple[int, int] | None:
    return None if value is None else _size(value, "model_input_size")


def _optional_count(value: Any, argument: str) -> int | None:
    return None if value is None else check_count(value, argument, 1)


def _values_range(values_range: Any) -> tuple[float, float] | None:
    if values_range is None:
        return None
    try:
        low, high = (float(v) for v in values_range)
    except (TypeError, ValueError):
        raise ValueError(
            f"Expected values_range to be a (low, high) pair of numbers. Received: "
            f"values_range={values_range!r}"
        ) from None
    if not (np.isfinite(low) and np.isfinite(high)) or low >= high:
        raise ValueError(
            f"Expected values_range to be finite with low < high. Received: "
            f"values_range={values_range!r}"
        )
    return low, high


def _seed(seed: Any) -> int:
    if seed is None:
        return int(np.random.SeedSequence().entropy % (2**31 - 1))
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**62:
        raise ValueError(
            f"Expected seed to be a non-negative integer below 2**62. Received: seed={seed!r}"
        )
    return int(seed)


def _strategy(strategy: Any, jit_compile: Any) -> Any:
    if strategy is None:
        return None
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.Strategy):
        raise TypeError(
            "Expected strategy to be a tf.distribute.Strategy (e.g. "
            "tf.distribute.MirroredStrategy()) or None. Received: strategy of type "
            f"{type(strategy).__name__}"
        )
    if jit_compile:
        raise ValueError(
            "Expected jit_compile=False with a strategy: XLA compiles the step of one device. "
            f"Received: jit_compile=True, strategy={type(strategy).__name__}"
        )
    return strategy
