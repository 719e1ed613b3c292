"""How a step uses the device: micro-batch sizes and how many run at once.

On CPU a step's crops go through the model in micro-batches, several side by side; on an
accelerator, in one call. The images are the same either way (gradients are accumulated);
only the speed and the peak memory change (docs/benchmarks.md, "options").
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

__all__ = ["default_batch_size", "micro_batches_in_flight", "CPU_MICRO_BATCH", "CPU_IN_FLIGHT"]

#: Micro-batch size used on CPU when ``batch_size`` is None: with :data:`CPU_IN_FLIGHT`
#: micro-batches at once, the fastest setting measured on EfficientNet-Lite0 with a fraction
#: of one call's memory (docs/benchmarks.md).
CPU_MICRO_BATCH = 4

#: Micro-batches that run at the same time on CPU: two independent micro-batches side by side
#: fill the cores that one call of a small model leaves idle (docs/benchmarks.md). An
#: accelerator runs one at a time.
CPU_IN_FLIGHT = 2


def default_batch_size() -> int | None:
    """The micro-batch size used when ``batch_size`` is None: :data:`CPU_MICRO_BATCH` when no
    accelerator is visible to TensorFlow, else None (one model call per step).

    Example
    -------
    >>> import tensorflow as tf
    >>> default_batch_size() == (None if tf.config.list_logical_devices("GPU") else 4)
    True
    """
    return None if _accelerators() else CPU_MICRO_BATCH


def micro_batches_in_flight() -> int:
    """How many micro-batches of a step run at the same time: :data:`CPU_IN_FLIGHT` when no
    accelerator is visible to TensorFlow, else 1. The images are the same either way; the
    model's peak memory grows with the number in flight.

    Example
    -------
    >>> import tensorflow as tf
    >>> micro_batches_in_flight() == (1 if tf.config.list_logical_devices("GPU") else 2)
    True
    """
    return 1 if _accelerators() else CPU_IN_FLIGHT


def _accelerators() -> list[Any]:
    return tf.config.list_logical_devices("GPU") + tf.config.list_logical_devices("TPU")
