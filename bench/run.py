"""xmaco's benchmark suite, side by side with Xplique's MACO (``make bench``).

Sections (``--sections``, all by default):

- ``step``: seconds per step, same work (one logit, canvas 512, 32 crops of 224): xmaco,
  Xplique, and the bare forward + backward pass of the model (one call on 32 inputs, and
  micro-batches of 4, two at a time, as the engine runs them on CPU).
- ``pieces``: each non-model piece of an xmaco step alone, as a fraction of the bare pass.
- ``batch``: seconds per visualization for N = 1, 4, 16 visualizations in one run.
- ``options``: micro-batch sizes, ``jit_compile``, ``mixed_precision``; peak memory of each.
- ``ablation``: each formulation difference from the MACO authors' switched alone and in
  combination, twelve classes x two seeds, judged by networks that did not make the pictures
  (``bench/ablation.py``).
- ``decisive``: ``xmaco.maco()`` with its default preset (``fast``) and with
  ``preset="reference"`` against Xplique's ``maco()`` at full size (256 steps x 32 crops, 512
  canvas), judged the same way (``bench/decisive.py``).

Each setting runs in its own process (peak memory per setting). Contenders alternate within
every round, so that a noisy machine slows all of them alike, and each timed step is followed
by a yardstick (the bare pass) whose ratio to the step cancels most of that noise. Results go
to ``bench/results/<section>.json``; the tables of ``docs/benchmarks.md`` are regenerated from
all the result files present. ``--smoke`` runs every section on a tiny model in seconds.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
DOCS = ROOT / "docs" / "benchmarks.md"
SECTIONS = ("step", "pieces", "batch", "options", "ablation", "decisive")


# ------------------------------------------------------------------------------ the plans
def plan(section: str, smoke: bool, model: str) -> dict[str, Any]:
    """The settings, rounds and step counts of one section."""
    timed = 2 if smoke else 5
    if section == "step":
        # 16 timed steps a round: enough that one round's spread is a few percent when idle.
        return {
            "rounds": 1 if smoke else 3,
            "contenders": {
                "xmaco": {"contender": "xmaco", "settings": {}},
                "xmaco, one call (batch_size=32)": {
                    "contender": "xmaco",
                    "settings": {"batch_size": 32},
                },
                "xplique": {"contender": "xplique", "settings": {}},
                "bare pass, one call on 32": {
                    "contender": "bare",
                    "settings": {"batch": 32, "chunk": 32},
                },
                "bare pass, micro-batches of 4, two at a time": {
                    "contender": "bare",
                    "settings": {"batch": 32, "chunk": 4, "in_flight": 2},
                },
            },
            "timed": 2 if smoke else 16,
        }
    if section == "batch":
        return {
            "rounds": 1 if smoke else 2,
            "contenders": {
                f"N={n}": {"contender": "xmaco", "settings": {"n": n}} for n in (1, 4, 16)
            }
            | {
                "N=1, one call (batch_size=32)": {
                    "contender": "xmaco",
                    "settings": {"n": 1, "batch_size": 32},
                }
            },
            "timed": 2 if smoke else 3,
        }
    if section == "options":
        contenders = {
            "default (batch_size=None)": {"contender": "xmaco", "settings": {}},
            "micro-batches of 4 one at a time (before)": {
                "contender": "xmaco",
                "settings": {"in_flight": 1},
            },
            "batch_size=8": {"contender": "xmaco", "settings": {"batch_size": 8}},
            "batch_size=16": {"contender": "xmaco", "settings": {"batch_size": 16}},
            "batch_size=32 (one call)": {"contender": "xmaco", "settings": {"batch_size": 32}},
            "jit_compile=True": {
                "contender": "xmaco",
                "settings": {"jit_compile": True},
                "slow": True,
            },
            "mixed_precision=True": {
                "contender": "xmaco",
                "settings": {"mixed_precision": True},
                "slow": True,
            },
        }
        return {"rounds": 1 if smoke else 2, "contenders": contenders, "timed": timed}
    if section == "pieces":
        return {"rounds": 2 if smoke else 7}
    raise ValueError(f"unknown section {section!r}")


# ------------------------------------------------------------------------------ running
def run_worker(task: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run one task in a fresh process; its JSON answer is the last line of its stdout."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": _pythonpath()}
    completed = subprocess.run(
        [sys.executable, str(HERE / "run.py"), "worker", json.dumps(task)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )
    if completed.returncode != 0:
        tail = "\n".join((completed.stderr or completed.stdout).splitlines()[-15:])
        return {"error": f"exit {completed.returncode}: {tail}"}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _pythonpath() -> str:
    parts = [str(ROOT), str(HERE), os.environ.get("PYTHONPATH", "")]
    return os.pathsep.join(p for p in parts if p)


def run_timed_section(section: str, args) -> dict[str, Any]:
    """Alternate the contenders of a timing section, rotating their order every round."""
    settings = plan(section, args.smoke, args.model)
    contenders = settings["contenders"]
    names = list(contenders)
    records: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    rounds = args.rounds or settings["rounds"]
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            entry = contenders[name]
            if entry.get("slow") and round_index > 0:
                continue  # XLA and bfloat16 on CPU: one round is enough to say how slow
            task = {
                "kind": "steps",
                "model": args.model,
                "contender": entry["contender"],
                "settings": entry["settings"],
                "warm": 1,
                "timed": 2 if entry.get("slow") else settings["timed"],
            }
            _log(f"{section}: round {round_index + 1}/{rounds}, {name}")
            answer = run_worker(task, args.timeout)
            answer["round"] = round_index
            records[name].append(answer)
            if "error" in answer:
                _log(f"  failed: {answer['error']}")
    return {"records": records, "rounds": rounds}


def run_pieces(args) -> dict[str, Any]:
    rounds = args.rounds or plan("pieces", args.smoke, args.model)["rounds"]
    _log("pieces")
    task = {"kind": "pieces", "model": args.model, "rounds": rounds}
    if args.smoke:
        task.update(crops=8, image_size=64)
    return run_worker(task, args.timeout)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import importlib.metadata as metadata

    versions = {}
    for package in ("tensorflow", "keras", "xplique", "numpy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "versions": versions,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "gpu": _gpus(),
    }


def _gpus() -> list[str]:
    """The GPUs ``nvidia-smi -L`` lists (none on a machine without the NVIDIA driver)."""
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line for line in listed.stdout.splitlines() if line.strip()]


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["worker"]:
        from workers import run_task

        print(json.dumps(run_task(json.loads(argv[1]))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--rounds", type=int, default=None, help="override each section's")
    parser.add_argument("--smoke", action="store_true", help="a tiny model, seconds per section")
    parser.add_argument("--timeout", type=float, default=4 * 3600.0, help="per process")
    parser.add_argument("--results", type=Path, default=None, help="default: bench/results")
    parser.add_argument("--docs", type=Path, default=None, help="default: docs/benchmarks.md")
    parser.add_argument("--report-only", action="store_true", help="rewrite the docs page")
    args = parser.parse_args(argv)
    if args.smoke and args.model == "efficientnet_lite0":
        args.model = "tiny"
    global RESULTS
    RESULTS = args.results or (RESULTS / "smoke" if args.smoke else RESULTS)
    RESULTS.mkdir(parents=True, exist_ok=True)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    for section in sections:
        if section not in SECTIONS:
            parser.error(f"unknown section {section!r}; expected some of {', '.join(SECTIONS)}")
    if not args.report_only:
        for section in sections:
            started = time.time()
            before = machine()
            if section in ("step", "batch", "options"):
                data = run_timed_section(section, args)
            elif section == "pieces":
                data = run_pieces(args)
            else:
                module = importlib.import_module(section)
                data = module.run_section(
                    args.smoke,
                    args.model,
                    RESULTS / section,
                    lambda task: run_worker(task, args.timeout),
                    _log,
                )
            data = {
                "section": section,
                "model": args.model,
                "machine": before,
                "load_average_after": os.getloadavg(),
                "minutes": (time.time() - started) / 60.0,
                "command": f"python bench/run.py --sections {section}"
                + (" --smoke" if args.smoke else ""),
                **data,
            }
            (RESULTS / f"{section}.json").write_text(json.dumps(data, indent=1))
    from report import write_report

    docs = args.docs or (RESULTS / "benchmarks.md" if args.smoke else DOCS)
    print(write_report(RESULTS, docs), end="")
    _log(f"wrote {docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
