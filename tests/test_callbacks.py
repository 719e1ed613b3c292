"""Callbacks: the list that drives them, frames, animations and logs, driven by hand and by
the engine; Ctrl-C."""

from __future__ import annotations

import csv
import io
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest
from PIL import Image

import xmaco
from xmaco.callbacks import Animation, Callback, CallbackList, CSVLogger, ProgressBar, Snapshots
from xmaco.result import Result

ROOT = Path(__file__).resolve().parents[1]


class FakeRun:
    """A run whose images move linearly from noise to a pattern: the RunView protocol."""

    def __init__(self, count=2, channels=3, size=12, steps=10, values_range=(-1.0, 1.0)):
        self.steps = steps
        self.names = [f"conv:channel {i}" for i in range(count)]
        self.values_range = values_range
        low, high = values_range
        rng = np.random.default_rng(0)
        self._start = rng.uniform(low, high, (count, size, size, channels)).astype(np.float32)
        yy, xx = np.mgrid[:size, :size]
        pattern = np.sin(xx[None] / 2.0 + yy[None] / 3.0 + np.arange(count)[:, None, None])
        pattern = np.repeat(pattern[..., None], channels, axis=-1) * (high - low) / 2
        self._end = (pattern + (high + low) / 2).astype(np.float32)
        self.done = 0

    def at(self, done: int) -> np.ndarray:
        share = done / self.steps
        return ((1 - share) * self._start + share * self._end).astype(np.float32)

    def images(self) -> np.ndarray:
        return self.at(self.done)

    def transparency(self) -> np.ndarray:
        return np.full(self._start.shape, float(self.done), np.float32)


def drive(callbacks, run: FakeRun, steps: int) -> Result:
    """Call the hooks as a run does, through one CallbackList."""
    callbacks = CallbackList(callbacks)
    callbacks.set_run(run)
    callbacks.on_run_begin({"steps": steps, "names": run.names})
    history, interrupted = [], False
    for step in range(steps):
        run.done = step + 1
        values = np.arange(len(run.names), dtype=np.float32) + step / 10
        history.append(values)
        logs = {
            "objective": values,
            "crop_size": 0.5 - step / 100,
            "noise": 0.08,
            "learning_rate": 1.0,
        }
        callbacks.on_step_end(step, logs)
        if callbacks.stop_run:
            interrupted = True
            break
    result = Result(
        images=run.images(),
        transparency=run.transparency(),
        history=np.asarray(history, np.float32).reshape(len(history), len(run.names)),
        names=list(run.names),
        config={"values_range": list(run.values_range)},
        interrupted=interrupted,
    )
    callbacks.on_run_end(result)
    return result


class StopAfter(Callback):
    def __init__(self, step: int) -> None:
        super().__init__()
        self.step = step

    def on_step_end(self, step, logs):
        self.stop_run = step >= self.step


def as_uint8(images: np.ndarray, values_range=(-1.0, 1.0)) -> np.ndarray:
    low, high = values_range
    return np.rint(np.clip((images - low) / (high - low), 0, 1) * 255).astype(np.uint8)


def gif_frames(path: Path) -> tuple[list[np.ndarray], list[int]]:
    """The frames as RGB uint8 arrays, and their durations in milliseconds."""
    frames, durations = [], []
    with Image.open(path) as gif:
        for i in range(gif.n_frames):
            gif.seek(i)
            durations.append(gif.info["duration"])
            frames.append(np.asarray(gif.convert("RGB")))
    return frames, durations


# ------------------------------------------------------------------------------- CallbackList


class Journal(Callback):
    """Writes every hook it receives, with its own name, into a shared list."""

    def __init__(self, name: str, journal: list) -> None:
        super().__init__()
        self.name, self.journal = name, journal

    def set_run(self, run):
        super().set_run(run)
        self.journal.append((self.name, "set_run"))

    def on_run_begin(self, logs):
        self.journal.append((self.name, "begin", logs["steps"]))

    def on_step_end(self, step, logs):
        self.journal.append((self.name, "step", step))

    def on_run_end(self, result):
        self.journal.append((self.name, "end", result.history.shape[0]))


def test_callback_list_calls_each_hook_on_every_member_in_order():
    journal: list = []
    run = FakeRun(count=1, steps=2)
    drive([Journal("a", journal), Journal("b", journal)], run, steps=2)
    assert journal == [
        ("a", "set_run"),
        ("b", "set_run"),
        ("a", "begin", 2),
        ("b", "begin", 2),
        ("a", "step", 0),
        ("b", "step", 0),
        ("a", "step", 1),
        ("b", "step", 1),
        ("a", "end", 2),
        ("b", "end", 2),
    ]


def test_callback_list_builds_from_none_one_callback_or_a_sequence():
    one, two = Snapshots(), StopAfter(1)
    assert list(CallbackList()) == [] and list(CallbackList(None)) == []
    assert list(CallbackList(one)) == [one]
    assert list(CallbackList([one, two])) == [one, two]
    assert list(CallbackList(c for c in [two, one])) == [two, one]
    nested = CallbackList(CallbackList([one]))
    nested.append(two)
    assert list(nested) == [one, two] and len(nested) == 2


def test_callback_list_shows_every_member_the_run():
    members = [Snapshots(), StopAfter(1)]
    run = FakeRun(count=1)
    callbacks = CallbackList(members)
    callbacks.set_run(run)
    assert callbacks.run is run and all(member.run is run for member in members)


def test_stop_run_is_true_when_any_member_asks():
    callbacks = CallbackList([Snapshots(), StopAfter(2), Snapshots()])
    assert callbacks.stop_run is False
    result = drive(callbacks, FakeRun(count=1, steps=10), steps=10)
    assert callbacks.stop_run is True
    assert result.interrupted and result.history.shape[0] == 3
    assert CallbackList().stop_run is False


def test_the_progress_bar_is_an_ordinary_member():
    stream = io.StringIO()
    bar = ProgressBar(stream=stream, interval=0.0)
    callbacks = CallbackList([bar, StopAfter(1)])
    assert list(callbacks)[0] is bar
    drive(callbacks, FakeRun(count=1, steps=4), steps=4)
    assert "2/4" in stream.getvalue() and "3/4" not in stream.getvalue()


@pytest.mark.parametrize(
    ("callbacks", "received"),
    [
        (3, "callbacks=3"),
        ("bar", "callbacks='bar'"),
        ([Snapshots(), 3], "item of type int: 3"),
        ([ProgressBar], "item of type type"),
    ],
)
def test_callback_list_rejects_what_is_not_a_callback(callbacks, received):
    with pytest.raises(TypeError, match=r"Expected callbacks to be .*Received") as error:
        CallbackList(callbacks)
    assert received in str(error.value)


def test_append_rejects_what_is_not_a_callback():
    callbacks = CallbackList()
    with pytest.raises(TypeError, match="Expected callbacks .* Received an item of type str"):
        callbacks.append("progress")
    assert len(callbacks) == 0


# ---------------------------------------------------------------------------------- Snapshots


def test_snapshots_take_the_start_every_k_steps_and_the_end():
    run = FakeRun(steps=10)
    shots = Snapshots(every=3)
    result = drive([shots], run, steps=10)
    assert [done for done, _ in shots.frames] == [0, 3, 6, 9, 10]
    for done, images in shots.frames:
        np.testing.assert_array_equal(images, run.at(done))
        assert images.dtype == np.float32
    np.testing.assert_array_equal(shots.frames[-1][1], result.images)


def test_a_callback_stop_run_ends_the_run_and_the_last_frame_is_the_partial_result():
    run = FakeRun(steps=10)
    shots = Snapshots(every=2)
    result = drive([shots, StopAfter(4)], run, steps=10)
    assert result.interrupted and result.history.shape[0] == 5
    assert [done for done, _ in shots.frames] == [0, 2, 4, 5]
    np.testing.assert_array_equal(shots.frames[-1][1], result.images)


def test_snapshots_start_afresh_on_each_run():
    shots = Snapshots(every=5)
    drive([shots], FakeRun(steps=10), steps=10)
    drive([shots], FakeRun(steps=5), steps=5)
    assert [done for done, _ in shots.frames] == [0, 5]


@pytest.mark.parametrize("every", [0, -2, 1.5, True, "3", None])
def test_every_must_be_a_positive_integer(every, tmp_path):
    with pytest.raises(ValueError, match=r"every to be a positive integer\. Received: every="):
        Snapshots(every=every)
    with pytest.raises(ValueError, match="every"):
        Animation(tmp_path / "a.gif", every=every)


# ---------------------------------------------------------------------------------- Animation


def test_gif_has_one_frame_per_snapshot_and_ends_on_the_final_images(tmp_path):
    run = FakeRun(count=3, size=12, steps=7)
    path = tmp_path / "run.gif"
    result = drive([Animation(path, every=2, fps=10, hold=0.5)], run, steps=7)
    frames, durations = gif_frames(path)
    assert len(frames) == 5  # steps done 0, 2, 4, 6, 7
    assert durations == [100] * 4 + [500]
    assert frames[-1].shape == (12, 3 * 12 + 2, 3)  # three cells, one-pixel white gaps
    assert (frames[-1][:, 12] == 255).all()
    expected = as_uint8(result.images)
    for i in range(3):
        cell = frames[-1][:, i * 13 : i * 13 + 12].astype(int)
        # A 256-colour palette per frame: close to the image, not exact.
        assert np.abs(cell - expected[i]).mean() < 4
    first = frames[0][:, :12].astype(int)
    assert np.abs(first - as_uint8(run.at(0))[0]).mean() < np.abs(first - expected[0]).mean()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.gif"]


def test_grayscale_gif_is_exact_and_index_selects_one_visualization(tmp_path):
    run = FakeRun(count=2, channels=1, size=10, steps=4)
    path = tmp_path / "gray.gif"
    result = drive([Animation(path, every=1, index=1)], run, steps=4)
    frames, _ = gif_frames(path)
    assert len(frames) == 5 and frames[-1].shape == (10, 10, 3)
    for channel in range(3):
        np.testing.assert_array_equal(frames[-1][..., channel], as_uint8(result.images)[1, ..., 0])


def test_max_side_shrinks_each_visualization(tmp_path):
    path = tmp_path / "small.gif"
    movie = Animation(path, every=2, max_side=6)
    drive([movie], FakeRun(count=2, size=12, steps=2), steps=2)
    assert [frame.shape for _, frame in movie.frames] == [(6, 13, 3)] * 2
    assert gif_frames(path)[0][-1].shape == (6, 13, 3)


def test_mp4_holds_the_last_frame_and_has_even_sides(tmp_path):
    path = tmp_path / "run.mp4"
    drive([Animation(path, every=2, fps=10, hold=0.3)], FakeRun(count=1, size=13, steps=4), 4)
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    assert len(frames) == 3 + 3  # steps done 0, 2, 4, then 0.3 s at 10 fps
    assert frames[0].shape == (14, 14, 3)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"path": "movie.avi"}, "path"),
        ({"path": "blocker/movie.gif"}, "path"),
        ({"path": "."}, "path"),
        ({"fps": 0}, "fps"),
        ({"hold": -1}, "hold"),
        ({"index": -1}, "index"),
        ({"max_side": 0}, "max_side"),
    ],
)
def test_animation_validates_its_arguments(tmp_path, kwargs, argument):
    (tmp_path / "blocker").write_text("a file where a directory is expected")
    kwargs = {"path": "movie.gif", **kwargs}
    kwargs["path"] = tmp_path / kwargs["path"]
    with pytest.raises(ValueError, match=argument):
        Animation(**kwargs)


def test_animation_index_beyond_the_batch_fails_at_run_begin(tmp_path):
    with pytest.raises(ValueError, match="index"):
        drive([Animation(tmp_path / "a.gif", index=2)], FakeRun(count=2, steps=2), steps=2)


# ---------------------------------------------------------------------------------- CSVLogger


class ReadBack(Callback):
    """Reads the CSV while the run goes on: every step must already be on disk."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.rows_seen: list[int] = []

    def on_step_end(self, step, logs):
        with open(self.path, newline="", encoding="utf-8") as handle:
            self.rows_seen.append(len(list(csv.reader(handle))) - 1)


def test_csv_logger_writes_and_flushes_one_row_per_step(tmp_path):
    path = tmp_path / "log.csv"
    run = FakeRun(count=2, steps=6)
    run.names = ['logits[1], "tabby"', "conv:channel 2"]
    reader = ReadBack(path)
    result = drive([CSVLogger(path), reader, StopAfter(3)], run, steps=6)
    assert reader.rows_seen == [1, 2, 3, 4]
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [
        "step",
        'objective:logits[1], "tabby"',
        "objective:conv:channel 2",
        "crop_size",
        "noise",
        "learning_rate",
    ]
    assert [int(row["step"]) for row in rows] == [0, 1, 2, 3]
    logged = np.array([[float(row[f"objective:{n}"]) for n in run.names] for row in rows])
    np.testing.assert_array_equal(logged.astype(np.float32), result.history)
    assert float(rows[2]["crop_size"]) == pytest.approx(0.48)
    assert float(rows[0]["learning_rate"]) == 1.0


def test_csv_logger_needs_a_writable_place(tmp_path):
    (tmp_path / "blocker").write_text("")
    with pytest.raises(ValueError, match="path"):
        CSVLogger(tmp_path / "blocker" / "log.csv")
    with pytest.raises(ValueError, match="path"):
        CSVLogger(tmp_path)


# ----------------------------------------------------------------------------- with the engine

TINY_MODEL = """
keras.utils.set_random_seed(0)
model = keras.Sequential(
    [
        keras.Input((16, 16, 3)),
        keras.layers.Conv2D(4, 3, activation="relu", name="conv1"),
        keras.layers.Conv2D(4, 3, name="conv2"),
    ]
)
"""


def tiny_model():
    scope = {"keras": keras}
    exec(TINY_MODEL, scope)
    return scope["model"]


def test_callbacks_in_a_real_run(tmp_path):
    gif, log = tmp_path / "run.gif", tmp_path / "log.csv"
    movie, shots = Animation(gif, every=2), Snapshots(every=3)
    result = xmaco.maco(
        xmaco.Objective.channel(tiny_model(), "conv2", [0, 1]),
        steps=6,
        crops=2,
        image_size=32,
        seed=0,
        verbose=False,
        callbacks=[movie, shots, CSVLogger(log)],
    )
    assert not result.interrupted and result.history.shape == (6, 2)
    frames, _ = gif_frames(gif)
    assert len(frames) == 4  # steps done 0, 2, 4, 6
    expected = as_uint8(result.images, result.values_range)
    for i in range(2):
        cell = frames[-1][:, i * 33 : i * 33 + 32].astype(int)
        assert np.abs(cell - expected[i]).mean() < 4
    assert np.abs(frames[0].astype(int) - frames[-1]).mean() > 4  # the image changed
    assert [done for done, _ in shots.frames] == [0, 3, 6]
    np.testing.assert_array_equal(shots.frames[-1][1], result.images)
    with open(log, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) == 1 + 6
    logged = np.array([[float(v) for v in row[1:3]] for row in rows[1:]], np.float32)
    np.testing.assert_array_equal(logged, result.history)


def test_stop_run_in_a_real_run():
    result = xmaco.maco(
        xmaco.Objective.channel(tiny_model(), "conv2", 0),
        steps=20,
        crops=2,
        image_size=32,
        seed=0,
        verbose=False,
        callbacks=[StopAfter(2)],
    )
    assert result.interrupted and result.history.shape == (3, 1)


CTRL_C_SCRIPT = (
    textwrap.dedent(
        """
        import sys

        import keras

        import xmaco
        from xmaco.callbacks import Callback


        class Announce(Callback):
            def on_step_end(self, step, logs):
                if step == 2:
                    print("step 3 reached", flush=True)

        """
    )
    + TINY_MODEL
    + textwrap.dedent(
        """
        result = xmaco.maco(
            xmaco.Objective.channel(model, "conv2", 0), steps=100_000, crops=2,
            image_size=32, seed=0, verbose=False, callbacks=[Announce()],
        )
        result.save(sys.argv[1])
        print("saved", flush=True)
        """
    )
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_returns_a_partial_result(tmp_path):
    script = tmp_path / "long_run.py"
    script.write_text(CTRL_C_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    log = (tmp_path / "stderr.txt").open("w")
    child = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "partial")],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        cwd=ROOT,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in child.stdout], daemon=True).start()
    try:
        deadline = time.monotonic() + 120
        while True:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.1))
            if line.strip() == "step 3 reached":
                break
        child.send_signal(signal.SIGINT)
        child.wait(timeout=60)
    except (queue.Empty, subprocess.TimeoutExpired):
        child.kill()
        child.wait()
    finally:
        log.close()
    errors = (tmp_path / "stderr.txt").read_text()[-2000:]
    assert child.returncode == 0, f"the child failed or hung: {errors}"
    result = Result.load(tmp_path / "partial")
    assert result.interrupted
    assert 3 <= result.history.shape[0] < 100_000
    assert result.images.shape == (1, 32, 32, 3) and np.isfinite(result.images).all()
