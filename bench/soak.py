"""Soak benchmark: a long MACO run must stay flat in memory and in step time, and never retrace.

Runs ``--steps`` (2000) MACO steps on a tiny model in a fresh Python process and measures:

- resident memory (``VmRSS`` of ``/proc/self/status``) after step 100 and at the end, and every
  ``--window`` steps in between;
- the step time of every window of ``--window`` (100) steps: its mean and its 10th percentile
  (the cost of a step when the machine lets it run: on a shared machine the mean follows the
  load of the other processes, the low percentile follows the step);
- the number of traces of the compiled step (``Result.stats["traces"]``).

The verdict: memory at the end within 5% of memory at step 100; step time flat (the 10th
percentile of the step times of the last quarter of the run within 25% of that of the second
quarter, the first quarter holding the trace and the warm-up); one trace. The figures go to
``bench/results/soak.json`` and to the terminal; docs/robustness.md quotes a run.

Usage::

    python bench/soak.py                 # 2000 steps, a few minutes on a busy 2-core CPU
    python bench/soak.py --steps 400     # a quick look

Linux only (``/proc``). The run happens in a child process so that the memory measured is that
of a process that did nothing else.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MEMORY_TOLERANCE = 0.05
TIME_TOLERANCE = 0.25
FIRST_SAMPLE = 100


def resident_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS in /proc/self/status")


def child(steps: int, window: int) -> dict:
    """The measured run; returns the raw figures."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import gc

    import keras

    import xmaco
    from xmaco.callbacks import Callback

    class Probe(Callback):
        def __init__(self):
            super().__init__()
            self.times, self.memory, self.objects = [], {}, {}

        def on_step_end(self, step, logs):
            self.times.append(time.perf_counter())
            done = step + 1
            if done == FIRST_SAMPLE or done % window == 0 or done == steps:
                self.memory[done] = resident_mb()
            if done in (FIRST_SAMPLE, steps):
                self.objects[done] = len(gc.get_objects())

    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu", name="conv2")(x)
    model = keras.Model(inputs, x, name="soak")
    probe = Probe()
    start = time.perf_counter()
    result = xmaco.maco(
        xmaco.Objective.channel(model, "conv2", [0, 1]),
        steps=steps,
        crops=4,
        image_size=64,
        seed=0,
        verbose=False,
        callbacks=[probe],
    )
    stamps = [start, *probe.times]
    return {
        "steps_done": result.stats["steps_done"],
        "traces": result.stats["traces"],
        "seconds": result.stats["seconds"],
        "step_ms": [round(1000.0 * (b - a), 4) for a, b in zip(stamps, stamps[1:], strict=False)],
        "resident_mb": {str(k): v for k, v in sorted(probe.memory.items())},
        "python_objects": {str(k): v for k, v in sorted(probe.objects.items())},
    }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)]


def timings(step_ms: list[float], window: int) -> dict:
    """Window means and 10th percentiles; the quarters of the run, pooled."""
    starts = range(0, len(step_ms) - window + 1, window)
    quarter = len(step_ms) // 4
    second, last = step_ms[quarter : 2 * quarter], step_ms[-quarter:]
    return {
        "first_step_ms": step_ms[0],
        "window_mean_ms": [statistics.fmean(step_ms[i : i + window]) for i in starts],
        "window_p10_ms": [percentile(step_ms[i : i + window], 0.1) for i in starts],
        "second_quarter_ms": {"p10": percentile(second, 0.1), "mean": statistics.fmean(second)},
        "last_quarter_ms": {"p10": percentile(last, 0.1), "mean": statistics.fmean(last)},
    }


def verdict(raw: dict, times: dict, steps: int) -> dict:
    memory = raw["resident_mb"]
    early, late = memory[str(FIRST_SAMPLE)], memory[str(steps)]
    second, last = times["second_quarter_ms"]["p10"], times["last_quarter_ms"]["p10"]
    return {
        "memory_growth_percent": 100.0 * (late - early) / early,
        "memory_flat": abs(late - early) <= MEMORY_TOLERANCE * early,
        "step_time_change_percent": 100.0 * (last - second) / second,
        "step_time_flat": abs(last - second) <= TIME_TOLERANCE * second,
        "traced_once": raw["traces"] == 1,
    }


def write_json(path: Path, payload: dict) -> None:
    """Atomically, as everything xmaco writes (without importing it: no TensorFlow here)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2)
        handle.write("\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "soak.json")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.steps < 4 * args.window or args.steps < FIRST_SAMPLE:
        parser.error(f"--steps must be at least 4 windows and {FIRST_SAMPLE}")
    if args.child:
        print(json.dumps(child(args.steps, args.window)))
        return 0
    if not Path("/proc/self/status").exists():
        parser.error("needs Linux (/proc/self/status)")
    command = [sys.executable, str(Path(__file__).resolve()), "--child"]
    command += ["--steps", str(args.steps), "--window", str(args.window)]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, env=environment)
    if completed.returncode != 0:
        print(completed.stderr[-4000:], file=sys.stderr)
        return completed.returncode
    raw = json.loads(completed.stdout.strip().splitlines()[-1])
    times = timings(raw.pop("step_ms"), args.window)
    figures = verdict(raw, times, args.steps)
    with open("/proc/loadavg", encoding="ascii") as load:
        load_average = float(load.read().split()[0])
    payload = {
        "benchmark": "soak",
        "settings": {
            "steps": args.steps,
            "window": args.window,
            "model": "conv 8 -> conv 16 (stride 2), 32x32x3 input",
            "objective": "conv2 channels 0 and 1 (2 visualizations)",
            "crops": 4,
            "image_size": 64,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_end": load_average,
        },
        "wall_seconds": time.perf_counter() - started,
        **raw,
        **times,
        "verdict": figures,
        "passed": all(v for k, v in figures.items() if isinstance(v, bool)),
    }
    write_json(args.out, payload)
    memory = raw["resident_mb"]
    print(
        f"{raw['steps_done']} steps in {raw['seconds']:.1f}s, traces {raw['traces']}\n"
        f"resident memory: {memory[str(FIRST_SAMPLE)]:.1f} MB at step {FIRST_SAMPLE}, "
        f"{memory[str(args.steps)]:.1f} MB at the end "
        f"({figures['memory_growth_percent']:+.2f}%)\n"
        f"step time, 10th percentile: {times['second_quarter_ms']['p10']:.2f} ms (second "
        f"quarter), {times['last_quarter_ms']['p10']:.2f} ms (last quarter) "
        f"({figures['step_time_change_percent']:+.1f}%); mean "
        f"{times['second_quarter_ms']['mean']:.2f} and {times['last_quarter_ms']['mean']:.2f} ms\n"
        f"verdict: {'pass' if payload['passed'] else 'FAIL'} -> {args.out}"
    )
    return 0 if payload["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
