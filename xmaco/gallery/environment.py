"""The shard of a gallery task, from the variables that Slurm and Kubernetes set.

``xmaco gallery --shard auto`` reads its shard ``i/n`` from the environment of the task:

- a **Slurm job array** (``sbatch --array=A-B`` or ``A-B:S``): ``i`` is the task's position
  in the array, ``(SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP``,
  and ``n`` is ``SLURM_ARRAY_TASK_COUNT``; an array need not start at 0.
- a **Kubernetes Indexed Job** (``completionMode: Indexed``): ``i`` is
  ``JOB_COMPLETION_INDEX``; Kubernetes does not give the pods the job's ``completions``, so
  ``n`` is read from ``XMACO_SHARD_COUNT``, set in the pod template to the same number.

The shard is never taken from the environment unless asked (``--shard auto``): a gallery run
inside an array task that is not a shard of it (one task per model, say) computes all its
items.

Example
-------
>>> shard_from_environment({"JOB_COMPLETION_INDEX": "2", "XMACO_SHARD_COUNT": "8"})
EnvironmentShard(index=2, count=8, source='JOB_COMPLETION_INDEX=2, XMACO_SHARD_COUNT=8')
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import NamedTuple

__all__ = ["COUNT_VARIABLE", "EnvironmentShard", "shard_from_environment"]

#: The number of shards of a Kubernetes Indexed Job (its ``completions``), set by the user.
COUNT_VARIABLE = "XMACO_SHARD_COUNT"
_SLURM = ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN")
_KUBERNETES = "JOB_COMPLETION_INDEX"


class EnvironmentShard(NamedTuple):
    """A shard read from the environment: ``index`` of ``count``, and the variables read.

    Example
    -------
    >>> index, count, source = EnvironmentShard(1, 3, "SLURM_ARRAY_TASK_ID=1, ...")
    >>> f"{index}/{count}"
    '1/3'
    """

    index: int
    count: int
    source: str


def shard_from_environment(environ: Mapping[str, str] | None = None) -> EnvironmentShard:
    """The shard ``(index, count)`` of this task, from Slurm's or Kubernetes' variables.

    Parameters
    ----------
    environ
        The variables; None: ``os.environ``.

    Returns
    -------
    EnvironmentShard
        ``index`` in ``[0, count)``, and ``source``, the variables it came from.

    Raises
    ------
    ValueError
        Naming the variable: none of them set, both engines' set, a count missing, a value
        that is not an integer, or an index out of range.

    Example
    -------
    >>> slurm = {"SLURM_ARRAY_TASK_ID": "11", "SLURM_ARRAY_TASK_MIN": "10",
    ...          "SLURM_ARRAY_TASK_COUNT": "4"}
    >>> shard_from_environment(slurm)[:2]
    (1, 4)
    >>> shard_from_environment({"JOB_COMPLETION_INDEX": "0"})
    Traceback (most recent call last):
    ...
    ValueError: Expected XMACO_SHARD_COUNT to be set to the Job's completions ... unset
    """
    environ = os.environ if environ is None else environ
    slurm, kubernetes = _SLURM[0] in environ, _KUBERNETES in environ
    if slurm and kubernetes:
        raise ValueError(
            f"Expected the variables of one engine for --shard auto. Received: both "
            f"{_SLURM[0]}={environ[_SLURM[0]]!r} (Slurm) and "
            f"{_KUBERNETES}={environ[_KUBERNETES]!r} (Kubernetes)"
        )
    if slurm:
        return _slurm(environ)
    if kubernetes:
        return _kubernetes(environ)
    raise ValueError(
        "Expected --shard auto to run in a Slurm job array (SLURM_ARRAY_TASK_ID, "
        "SLURM_ARRAY_TASK_COUNT) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX, with "
        f"{COUNT_VARIABLE} set to its completions). Received: none of these variables is set "
        "(give --shard I/N instead)"
    )


def _slurm(environ: Mapping[str, str]) -> EnvironmentShard:
    task, count, first = _SLURM
    if count not in environ:
        raise ValueError(
            f"Expected {count} with {task} (Slurm sets both in a job array since version "
            f"17.11). Received: {task}={environ[task]!r}, {count} unset"
        )
    identity = _integer(environ, task, 0)
    total = _integer(environ, count, 1)
    lowest = _integer(environ, first, 0) if first in environ else 0
    stepped = "SLURM_ARRAY_TASK_STEP" in environ
    step = _integer(environ, "SLURM_ARRAY_TASK_STEP", 1) if stepped else 1
    index, rest = divmod(identity - lowest, step)
    names = [name for name in (task, first, "SLURM_ARRAY_TASK_STEP", count) if name in environ]
    source = ", ".join(f"{name}={environ[name]}" for name in names)
    if rest or not 0 <= index < total:
        raise ValueError(
            f"Expected {task} to be one of the {total} tasks of the array "
            f"{lowest}-{lowest + step * (total - 1)}"
            + (f":{step}" if step > 1 else "")
            + f" (--shard auto needs an array given as a range). Received: {source}"
        )
    return EnvironmentShard(index, total, source)


def _kubernetes(environ: Mapping[str, str]) -> EnvironmentShard:
    if COUNT_VARIABLE not in environ:
        raise ValueError(
            f"Expected {COUNT_VARIABLE} to be set to the Job's completions (Kubernetes does not "
            f"give it to the pods) with {_KUBERNETES}. Received: {COUNT_VARIABLE} unset"
        )
    index = _integer(environ, _KUBERNETES, 0)
    total = _integer(environ, COUNT_VARIABLE, 1)
    source = f"{_KUBERNETES}={environ[_KUBERNETES]}, {COUNT_VARIABLE}={environ[COUNT_VARIABLE]}"
    if index >= total:
        raise ValueError(
            f"Expected {_KUBERNETES} to be in [0, {total - 1}] ({COUNT_VARIABLE}={total}, which "
            f"should equal the Job's completions). Received: {source}"
        )
    return EnvironmentShard(index, total, source)


def _integer(environ: Mapping[str, str], name: str, minimum: int) -> int:
    text = environ[name].strip()
    if not (text.isascii() and text.isdigit()) or int(text) < minimum:
        raise ValueError(
            f"Expected {name} to be an integer >= {minimum}. Received: {name}={environ[name]!r}"
        )
    return int(text)
