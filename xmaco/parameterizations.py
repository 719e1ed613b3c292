"""Parameterizations: how an image is produced from the optimised variables.

Each parameterization builds the :class:`State` of a run (its variables and constants) and
turns a state into N images in [0, 1] (N, H, W, C). It keeps nothing itself, so one object can
serve any number of runs, and it knows nothing of models or objectives; the engine scales its
output to the model's value range.

- :class:`Maco`: the Fourier magnitude is fixed to a natural-image magnitude and only the
  phase is optimised (MACO).
- :class:`Fourier`: the full complex spectrum, scaled by ``1 / f**decay`` (Olah et al. 2017).
- :class:`Pixel`: the pixels themselves (through a sigmoid).
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from . import spectrum as spectra
from .color import recorrelate_matrix

__all__ = ["State", "Parameterization", "Maco", "Fourier", "Pixel"]


@dataclasses.dataclass(frozen=True)
class State:
    """What :meth:`Parameterization.build` makes for one run.

    Attributes
    ----------
    variables
        The ``tf.Variable`` objects the optimizer updates.
    constants
        Whatever else :meth:`Parameterization.images` needs (a magnitude, a canvas shape).

    Example
    -------
    >>> state = Maco().build([0], 16, 16, 3)
    >>> [v.name for v in state.variables], sorted(state.constants)
    (['phase:0'], ['magnitude', 'shape'])
    """

    variables: tuple[tf.Variable, ...]
    constants: Mapping[str, Any] = dataclasses.field(default_factory=dict)


class Parameterization(abc.ABC):
    """Base class. Subclasses implement :meth:`build` and :meth:`images`.

    ``build`` is called once per run, outside the compiled step, and returns the run's
    :class:`State`; ``images(state)`` runs inside the compiled step. Neither keeps anything on
    the object: one parameterization serves several runs, even at once.

    Example
    -------
    >>> class Gray(Parameterization):
    ...     name = "gray"
    ...     def build(self, seeds, height, width, channels):
    ...         return State((tf.Variable(tf.zeros([len(seeds), height, width, channels])),))
    ...     def images(self, state):
    ...         return tf.sigmoid(state.variables[0])
    >>> p = Gray()
    >>> float(p.images(p.build([0], 4, 4, 1))[0, 0, 0, 0])
    0.5
    """

    #: Short name recorded in ``Result.config["method"]``.
    name: str = ""
    #: Default optimizer and learning rate for this parameterization.
    default_optimizer: str = "nadam"
    default_learning_rate: float = 1.0

    @abc.abstractmethod
    def build(self, seeds: Sequence[int], height: int, width: int, channels: int) -> State:
        """The state of ``len(seeds)`` visualizations, each drawn from its own seed."""

    @abc.abstractmethod
    def images(self, state: State) -> tf.Tensor:
        """The images (N, H, W, C) in [0, 1]."""

    def describe(self) -> dict[str, Any]:
        """A JSON-friendly description (recorded in ``Result.config``)."""
        return {"method": self.name}


def _standardise(x: tf.Tensor, axes: Sequence[int]) -> tf.Tensor:
    mean, variance = tf.nn.moments(x, axes=list(axes), keepdims=True)
    return (x - mean) / (tf.sqrt(variance) + 1e-5)


def _to_rgb(decorrelated: tf.Tensor) -> tf.Tensor:
    """Map (N, H, W, C) decorrelated values to RGB (C = 3); grayscale passes through."""
    if decorrelated.shape[-1] != 3:
        return decorrelated
    return tf.tensordot(decorrelated, tf.constant(recorrelate_matrix()), axes=[[3], [0]])


def _normal(seeds: Sequence[int], shape: Sequence[int], std: float = 1.0) -> np.ndarray:
    return np.stack(
        [std * np.random.default_rng(int(seed)).standard_normal(shape) for seed in seeds]
    ).astype(np.float32)


class Maco(Parameterization):
    """Phase-only parameterization with a fixed natural-image magnitude (MACO).

    ``image = sigmoid(recorrelate(standardise(irfft2d(r * exp(i * phi)))))``, where ``r`` is
    the fixed magnitude (C, H, W//2+1) in the decorrelated colour space and ``phi`` the phase,
    the only variable.

    Parameters
    ----------
    spectrum
        None (the natural default, :func:`xmaco.spectrum.natural`), a (C, H', W'//2+1) array
        or a path to a ``.npy`` file; resized to the canvas when needed.
    phase
        How the phase is drawn and used. ``"uniform"``: drawn uniform on the circle,
        ``U(-pi, pi)``, and used as it is. ``"standardised"``: drawn from N(0, 1) and
        standardised (mean 0, std 1 over each visualization's phases) every time the image
        is formed, as the MACO authors' implementations do; as the phase spreads during a run,
        the standardisation shrinks each step's effect (an implicit step-size decay), and its
        bias towards 0 makes the real parts add up coherently at the origin (a bright
        spot in the corner of the image).

    Example
    -------
    >>> p = Maco()
    >>> p.images(p.build([0], 32, 32, 3)).shape.as_list()
    [1, 32, 32, 3]
    """

    name = "maco"
    default_optimizer = "nadam"
    default_learning_rate = 1.0

    PHASES = ("uniform", "standardised")

    def __init__(self, spectrum: Any = None, phase: str = "uniform") -> None:
        if phase not in self.PHASES:
            raise ValueError(
                f"Expected phase to be one of {', '.join(map(repr, self.PHASES))}. "
                f"Received: phase={phase!r}"
            )
        self.spectrum = spectrum
        self.phase = phase

    def build(self, seeds, height, width, channels):
        magnitude = spectra.resolve(self.spectrum, height, width, channels)
        if self.phase == "standardised":
            phase = _normal(seeds, magnitude.shape)
        else:
            phase = np.stack(
                [
                    np.random.default_rng(int(seed)).uniform(-np.pi, np.pi, magnitude.shape)
                    for seed in seeds
                ]
            ).astype(np.float32)
        constants = {"magnitude": magnitude, "shape": (height, width)}
        return State((tf.Variable(phase, name="phase"),), constants)

    def decorrelated(self, state: State) -> tf.Tensor:
        """The standardised image before colour recorrelation and sigmoid (N, H, W, C)."""
        (phase,) = state.variables
        if self.phase == "standardised":
            phase = _standardise(phase, axes=(1, 2, 3))
        magnitude = tf.constant(state.constants["magnitude"])
        spectrum = tf.complex(magnitude * tf.cos(phase), magnitude * tf.sin(phase))
        shape = list(state.constants["shape"])
        image = tf.signal.irfft2d(spectrum, fft_length=shape)  # (N, C, H, W)
        image = _standardise(image, axes=(1, 2, 3))
        return tf.transpose(image, [0, 2, 3, 1])

    def images(self, state):
        return tf.sigmoid(_to_rgb(self.decorrelated(state)))

    def describe(self):
        source = self.spectrum
        if source is None:
            label = "natural"
        elif isinstance(source, np.ndarray):
            label = f"array{tuple(source.shape)}"
        else:
            label = str(source)
        return {"method": self.name, "spectrum": label, "phase": self.phase}


class Fourier(Parameterization):
    """The full complex spectrum, scaled by ``1 / max(f, 1/size) ** decay`` (Olah et al.).

    Parameters
    ----------
    decay
        The power of the 1/f scaling (1.0: natural-image-like).
    init_std
        Standard deviation of the initial real and imaginary parts.

    Example
    -------
    >>> p = Fourier()
    >>> p.images(p.build([0, 1], 16, 24, 1)).shape.as_list()
    [2, 16, 24, 1]
    """

    name = "fourier"
    default_optimizer = "adam"
    default_learning_rate = 0.05

    def __init__(self, decay: float = 1.0, init_std: float = 0.01) -> None:
        if not isinstance(decay, (int, float)) or not 0.0 <= decay <= 4.0:
            raise ValueError(f"Expected decay to be a number in [0, 4]. Received: decay={decay!r}")
        self.decay = float(decay)
        self.init_std = float(init_std)

    def build(self, seeds, height, width, channels):
        fy = np.fft.fftfreq(height)[:, None]
        fx = np.fft.rfftfreq(width)[None, :]
        frequency = np.sqrt(fx**2 + fy**2)
        scale = 1.0 / np.maximum(frequency, 1.0 / max(height, width)) ** self.decay
        constants = {
            "scale": (scale * np.sqrt(height * width)).astype(np.float32),
            "shape": (height, width),
        }
        shape = (2, channels, height, width // 2 + 1)
        parts = tf.Variable(_normal(seeds, shape, self.init_std), name="spectrum")
        return State((parts,), constants)

    def images(self, state):
        (parts,) = state.variables
        scale = tf.constant(state.constants["scale"])
        spectrum = tf.complex(parts[:, 0] * scale, parts[:, 1] * scale)
        shape = list(state.constants["shape"])
        image = tf.signal.irfft2d(spectrum, fft_length=shape) / 4.0
        return tf.sigmoid(_to_rgb(tf.transpose(image, [0, 2, 3, 1])))

    def describe(self):
        return {"method": self.name, "decay": self.decay}


class Pixel(Parameterization):
    """Raw pixels through a sigmoid: the simplest (and noisiest) baseline.

    Example
    -------
    >>> p = Pixel()
    >>> float(tf.reduce_max(p.images(p.build([0], 8, 8, 3)))) < 1.0
    True
    """

    name = "pixel"
    default_optimizer = "adam"
    default_learning_rate = 0.05

    def __init__(self, init_std: float = 0.01) -> None:
        self.init_std = float(init_std)

    def build(self, seeds, height, width, channels):
        pixels = _normal(seeds, (height, width, channels), self.init_std)
        return State((tf.Variable(pixels, name="pixels"),))

    def images(self, state):
        (pixels,) = state.variables
        return tf.sigmoid(pixels)
