"""Parameterizations: how an image is produced from the optimised variables.

Each parameterization turns its variables into N images in [0, 1] (N, H, W, C). It knows
nothing of models or objectives; the engine scales its output to the model's value range.

- :class:`Maco`: the Fourier magnitude is fixed to a natural-image magnitude and only the
  phase is optimised (MACO).
- :class:`Fourier`: the full complex spectrum, scaled by ``1 / f**decay`` (Olah et al. 2017).
- :class:`Pixel`: the pixels themselves (through a sigmoid).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from . import spectrum as spectra
from .color import recorrelate_matrix

__all__ = ["Parameterization", "Maco", "Fourier", "Pixel"]


class Parameterization(abc.ABC):
    """Base class. Subclasses implement :meth:`build` and :meth:`images`.

    ``build`` is called once per run, outside the compiled step; it may create constants.
    ``images`` runs inside the compiled step.

    Example
    -------
    >>> class Gray(Parameterization):
    ...     name = "gray"
    ...     def build(self, seeds, height, width, channels):
    ...         return [tf.Variable(tf.zeros([len(seeds), height, width, channels]))]
    ...     def images(self, variables):
    ...         return tf.sigmoid(variables[0])
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
    def build(
        self, seeds: Sequence[int], height: int, width: int, channels: int
    ) -> list[tf.Variable]:
        """Create the variables of ``len(seeds)`` visualizations, each from its own seed."""

    @abc.abstractmethod
    def images(self, variables: Sequence[tf.Variable]) -> tf.Tensor:
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
    >>> variables = p.build([0], 32, 32, 3)
    >>> p.images(variables).shape.as_list()
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
        self.magnitude: np.ndarray | None = None
        self._shape: tuple[int, int] = (0, 0)

    def build(self, seeds, height, width, channels):
        self.magnitude = spectra.resolve(self.spectrum, height, width, channels)
        self._shape = (height, width)
        if self.phase == "standardised":
            phase = _normal(seeds, self.magnitude.shape)
        else:
            phase = np.stack(
                [
                    np.random.default_rng(int(seed)).uniform(-np.pi, np.pi, self.magnitude.shape)
                    for seed in seeds
                ]
            ).astype(np.float32)
        return [tf.Variable(phase, name="phase")]

    def decorrelated(self, variables: Sequence[tf.Variable]) -> tf.Tensor:
        """The standardised image before colour recorrelation and sigmoid (N, H, W, C)."""
        (phase,) = variables
        if self.phase == "standardised":
            phase = _standardise(phase, axes=(1, 2, 3))
        magnitude = tf.constant(self.magnitude)
        spectrum = tf.complex(magnitude * tf.cos(phase), magnitude * tf.sin(phase))
        image = tf.signal.irfft2d(spectrum, fft_length=list(self._shape))  # (N, C, H, W)
        image = _standardise(image, axes=(1, 2, 3))
        return tf.transpose(image, [0, 2, 3, 1])

    def images(self, variables):
        return tf.sigmoid(_to_rgb(self.decorrelated(variables)))

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
        self._scale: np.ndarray | None = None
        self._shape: tuple[int, int] = (0, 0)

    def build(self, seeds, height, width, channels):
        fy = np.fft.fftfreq(height)[:, None]
        fx = np.fft.rfftfreq(width)[None, :]
        frequency = np.sqrt(fx**2 + fy**2)
        scale = 1.0 / np.maximum(frequency, 1.0 / max(height, width)) ** self.decay
        self._scale = (scale * np.sqrt(height * width)).astype(np.float32)
        self._shape = (height, width)
        shape = (2, channels, height, width // 2 + 1)
        return [tf.Variable(_normal(seeds, shape, self.init_std), name="spectrum")]

    def images(self, variables):
        (parts,) = variables
        scale = tf.constant(self._scale)
        spectrum = tf.complex(parts[:, 0] * scale, parts[:, 1] * scale)
        image = tf.signal.irfft2d(spectrum, fft_length=list(self._shape)) / 4.0
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
        return [
            tf.Variable(_normal(seeds, (height, width, channels), self.init_std), name="pixels")
        ]

    def images(self, variables):
        (pixels,) = variables
        return tf.sigmoid(pixels)
