"""Presets: named settings of the steps, the crops, the crop schedule, the learning rate and the
phase of a MACO run.

``reference`` is the MACO authors' method: 256 steps, 32 crops per step, the crop side
shrinking from half the canvas to 5%, learning rate 1.0. ``fast`` needs half of its model
evaluations: the same 256 steps with 16 crops each, the crops shrinking to a fifth of the
canvas side, so that the last steps shape whole objects rather than small details, and a
learning rate decaying from 1.0 to 0.1 along a half-cosine, so that the phase settles. Both
draw the phase from N(0, 1) and standardise it every time the image is formed, as the
authors' implementations do. How each choice was measured, by networks that did not make the
pictures, is in docs/benchmarks.md ("Why the defaults are what they are").
``fast`` is the default (:data:`DEFAULT`) of every front door (``xmaco.maco``, ``xmaco
visualize``, ``xmaco gallery``): the best transfer per model evaluation measured
(docs/benchmarks.md, section 6). At full size, judged by networks that did not make the
pictures, it gave every judge a higher class probability than ``reference`` for half the
model evaluations; spending them on 256 steps of 16 crops rather than 128 steps of 32 raised
every judge's probability and crop top-1 rate (MobileNet's crop top-1: 0.70 against 0.58,
12 classes x 2 seeds).
``xmaco.maco(preset=...)`` and ``--preset`` choose; explicit keywords win over a preset's
values.
"""

from __future__ import annotations

import dataclasses
import difflib
import numbers
from typing import Any

from . import schedules

__all__ = ["Preset", "PRESETS", "DEFAULT", "FROM_PRESET", "get"]


class _FromPreset:
    """The default of the keywords a preset fills in (shown as such in signatures)."""

    def __repr__(self) -> str:
        return "<from preset>"


#: Default of ``crops`` in :func:`xmaco.maco`: the preset's value (``None`` means no crops).
FROM_PRESET: Any = _FromPreset()


@dataclasses.dataclass(frozen=True)
class Preset:
    """Steps, crops per step, crop schedule, learning rate and phase of a MACO run.

    Parameters
    ----------
    name
        The name ``xmaco.maco(preset=...)`` and the CLI's ``--preset`` take.
    steps
        Optimisation steps.
    crops
        Random crops per step and visualization.
    crop_side
        (start, end): the crop side, as a fraction of the canvas side, shrinks linearly from
        start to end over the run.
    learning_rate
        (start, end): the learning rate decays from start to end over the run along a
        half-cosine, in multiples of the parameterization's rate (1.0 for MACO, 0.05 for the
        Fourier and pixel baselines); None keeps the parameterization's constant rate.
    phase
        How MACO draws and uses the phase (:class:`xmaco.parameterizations.Maco`):
        ``"uniform"`` or ``"standardised"``.
    crop_spread
        Standard deviation of the crop centres around the canvas centre, a fraction of its
        side (:class:`xmaco.transforms.Crops`); the authors' is 0.15.
    summary
        One line for help texts.

    Example
    -------
    >>> preset = get("reference")
    >>> preset.steps, preset.crops, preset.model_evaluations
    (256, 32, 8192)
    >>> round(float(preset.crop_size(preset.steps)(255)), 3)
    0.05
    >>> preset.phase
    'standardised'
    """

    name: str
    steps: int
    crops: int
    crop_side: tuple[float, float]
    summary: str
    learning_rate: tuple[float, float] | None = None
    phase: str = "uniform"
    crop_spread: float = 0.15

    @property
    def model_evaluations(self) -> int:
        """Crops the model sees per visualization over the run (steps x crops)."""
        return self.steps * self.crops

    def crop_size(self, steps: int) -> schedules.linear:
        """The crop schedule over ``steps`` (a run may override the preset's steps)."""
        return schedules.linear(*self.crop_side, steps)

    def apply(self, steps: Any, crops: Any, crop_size: Any) -> tuple[Any, Any, Any]:
        """``(steps, crops, crop_size)`` with the preset's values where the caller gave none
        (``steps=None``, ``crops=FROM_PRESET``, ``crop_size=None``); the crop schedule spans
        the steps of the run.

        Example
        -------
        >>> steps, crops, crop_size = get("reference").apply(100, FROM_PRESET, None)
        >>> steps, crops, round(float(crop_size(99)), 3)
        (100, 32, 0.05)
        """
        steps = self.steps if steps is None else steps
        crops = self.crops if crops is FROM_PRESET else crops
        if crop_size is None and _is_step_count(steps):
            crop_size = self.crop_size(int(steps))
        return steps, crops, crop_size

    def rate(self, steps: Any, learning_rate: Any, base: float = 1.0) -> Any:
        """``learning_rate`` if the caller gave one, else the preset's decay over the ``steps``
        of the run, in multiples of ``base`` (the parameterization's rate: 1.0 for MACO); None,
        the parameterization's constant rate, for a preset without one.

        Example
        -------
        >>> rate = get("fast").rate(100, None)
        >>> round(float(rate(0)), 3), round(float(rate(99)), 3)
        (1.0, 0.1)
        >>> round(float(get("fast").rate(100, None, base=0.05)(99)), 4)
        0.005
        >>> get("fast").rate(100, 0.5), get("reference").rate(100, None)
        (0.5, None)
        """
        if learning_rate is not None or self.learning_rate is None or not _is_step_count(steps):
            return learning_rate
        start, end = self.learning_rate
        return schedules.cosine(start * base, end * base, int(steps))

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "steps": self.steps,
            "crops": self.crops,
            "crop_side": list(self.crop_side),
            "learning_rate": None if self.learning_rate is None else list(self.learning_rate),
            "phase": self.phase,
            "crop_spread": self.crop_spread,
        }


def _is_step_count(steps: Any) -> bool:
    """Whether ``steps`` can size a schedule (a bad value is left for the engine to reject)."""
    return isinstance(steps, numbers.Integral) and not isinstance(steps, bool) and steps >= 1


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "reference",
            steps=256,
            crops=32,
            crop_side=(0.5, 0.05),
            phase="standardised",
            summary="the MACO authors' method: 256 steps x 32 crops, crop side 0.5 to 0.05, "
            "phase standardised",
        ),
        Preset(
            "fast",
            steps=256,
            crops=16,
            crop_side=(0.5, 0.2),
            learning_rate=(1.0, 0.1),
            phase="standardised",
            summary="half the model evaluations: 256 steps x 16 crops, crop side 0.5 to 0.2, "
            "learning rate 1 to 0.1 (cosine), phase standardised",
        ),
    )
}


#: The preset a run uses when none is named: the best transfer per model evaluation measured
#: (docs/benchmarks.md, section 6).
DEFAULT = "fast"


def get(name: str | Preset) -> Preset:
    """The preset called ``name`` (a :class:`Preset` passes through).

    Raises
    ------
    ValueError
        For an unknown name, listing the presets.

    Example
    -------
    >>> get("fast").name
    'fast'
    """
    if isinstance(name, Preset):
        return name
    if isinstance(name, str) and name in PRESETS:
        return PRESETS[name]
    close = difflib.get_close_matches(str(name), PRESETS, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(
        f"Expected preset to be one of {', '.join(map(repr, PRESETS))}. "
        f"Received: preset={name!r}.{hint}"
    )
