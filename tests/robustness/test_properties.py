"""Properties that must hold for any input, checked on random ones (hypothesis).

Beyond the module tests: the objective algebra on random weights and batches, readable names
for any combination, MACO images through the whole engine at random (odd) canvases and value
ranges, crop boxes with the default jitter on extreme canvases and under schedules, and the
resizing of arbitrary spectra.
"""

from __future__ import annotations

import re

import numpy as np
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import xmaco
from xmaco import Objective, schedules, spectrum
from xmaco.color import recorrelate_matrix
from xmaco.transforms import MIN_CROP, sample_boxes

IMAGES = np.random.default_rng(0).random((4, 32, 32, 3)).astype(np.float32)
weights = st.floats(-4.0, 4.0, allow_nan=False).filter(lambda w: abs(w) > 1e-3)
_SCORES: dict[tuple, np.ndarray] = {}


def scores(objective: Objective, visualization: np.ndarray | None = None) -> np.ndarray:
    """The scores of IMAGES, image ``b`` scored for ``visualization[b]`` (default: all 0)."""
    rows = np.zeros(len(IMAGES), np.int32) if visualization is None else visualization
    compiled = objective.compile()
    return compiled.scores(tf.constant(IMAGES), tf.constant(rows, tf.int32)).numpy()


def base_scores(cnn, kind: str, index: int) -> np.ndarray:
    """Scores of one single-term objective, computed once per (kind, index)."""
    key = (kind, index)
    if key not in _SCORES:
        if kind == "channel":
            _SCORES[key] = scores(Objective.channel(cnn, "conv2", index))
        else:
            _SCORES[key] = scores(Objective.neuron(cnn, "logits", index))
    return _SCORES[key]


def assert_close(found: np.ndarray, expected: np.ndarray, parts: list[np.ndarray]) -> None:
    scale = max(float(np.max(np.abs(part))) for part in parts)
    np.testing.assert_allclose(found, expected, rtol=1e-5, atol=1e-5 * scale)


# ------------------------------------------------------------------------- objective algebra
@settings(max_examples=12, deadline=None)
@given(
    a=weights,
    b=weights,
    c=weights,
    divisor=weights,
    channel=st.integers(0, 15),
    unit=st.integers(0, 4),
    other=st.integers(0, 15),
)
def test_scores_are_exactly_linear_in_the_weights(cnn, a, b, c, divisor, channel, unit, other):
    x = Objective.channel(cnn, "conv2", channel)
    y = Objective.neuron(cnn, "logits", unit)
    z = Objective.channel(cnn, "conv2", other)
    combined = a * x + y * b - (c * z) / divisor
    parts = [base_scores(cnn, "channel", channel), base_scores(cnn, "neuron", unit)]
    parts.append(base_scores(cnn, "channel", other))
    expected = a * parts[0] + b * parts[1] - (c / divisor) * parts[2]
    assert_close(scores(combined), expected, parts)
    assert [t.weight for t in combined.terms] == [a, b, -(c * (1.0 / divisor))]
    assert [t.weight for t in x.terms + y.terms + z.terms] == [1.0, 1.0, 1.0]  # untouched


@settings(max_examples=10, deadline=None)
@given(
    channels=st.lists(st.integers(0, 15), min_size=2, max_size=4, unique=True),
    unit=st.integers(0, 4),
    b=weights,
    owners=st.lists(st.integers(0, 3), min_size=4, max_size=4),
)
def test_a_single_objective_broadcasts_over_a_batch(cnn, channels, unit, b, owners):
    n = len(channels)
    owners = np.array([o % n for o in owners], np.int32)
    batch = Objective.channel(cnn, "conv2", channels) + b * Objective.neuron(cnn, "logits", unit)
    found = scores(batch, owners)
    per_image = [base_scores(cnn, "channel", channels[o])[i] for i, o in enumerate(owners)]
    neuron = base_scores(cnn, "neuron", unit)
    expected = np.array(per_image) + b * neuron
    assert_close(found, expected, [np.array(per_image), neuron])
    assert batch.visualizations == n and len(batch.names) == n
    assert (b * Objective.neuron(cnn, "logits", unit) + batch).visualizations == n


TERM = re.compile(r"(?:(?P<weight>[0-9.e+-]+)\*)?(?P<label>[a-z0-9_]+(?::channel \d+|\[\d+\]))")


def parse_name(name: str) -> list[tuple[float, str]]:
    """``'-2*a + b - 0.5*c'`` as [(-2.0, 'a'), (1.0, 'b'), (-0.5, 'c')]; fails if malformed."""
    pieces = re.split(r" ([+-]) ", name)
    signs = ["-" if pieces[0].startswith("-") else "+"] + pieces[1::2]
    terms = [pieces[0].removeprefix("-"), *pieces[2::2]]
    parsed = []
    for sign, term in zip(signs, terms, strict=True):
        match = TERM.fullmatch(term)
        assert match, f"malformed term {term!r} in {name!r}"
        weight = float(match["weight"]) if match["weight"] else 1.0
        assert weight > 0, f"bad weight in {name!r}"
        parsed.append((-weight if sign == "-" else weight, match["label"]))
    return parsed


@settings(max_examples=40, deadline=None)
@given(
    parts=st.lists(
        st.tuples(
            st.sampled_from(["channel", "neuron"]),
            st.integers(0, 4),
            st.floats(-1e4, 1e4, allow_nan=False).filter(lambda w: w != 0),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_names_are_well_formed_and_carry_every_weight(cnn, parts):
    objectives = [
        w * (Objective.channel(cnn, "conv2", i) if kind == "channel" else cnn_neuron(cnn, i))
        for kind, i, w in parts
    ]
    total = sum(objectives[1:], objectives[0])
    (name,) = total.names
    parsed = parse_name(name)
    assert [label for _, label in parsed] == [
        f"conv2:channel {i}" if kind == "channel" else f"logits[{i}]" for kind, i, _ in parts
    ]
    for (weight, _), (_, _, exact) in zip(parsed, parts, strict=True):
        # the name shows the weight to 6 digits, and leaves out only an exact 1
        shown = np.sign(exact) if abs(exact) == 1 else float(f"{exact:g}")
        assert weight == shown, (name, exact)


def cnn_neuron(cnn, index: int) -> Objective:
    return Objective.neuron(cnn, "logits", index)


# ----------------------------------------------------------------------- images, end to end
@settings(max_examples=4, deadline=None)
@given(
    height=st.integers(8, 48),
    width=st.integers(8, 48),
    low=st.floats(-3.0, 3.0),
    span=st.floats(0.5, 8.0),
    gray=st.booleans(),
)
def test_engine_images_have_the_canvas_size_the_range_and_the_fixed_magnitude(
    cnn, gray_cnn, height, width, low, span, gray
):
    model = gray_cnn if gray else cnn
    high = low + span
    result = xmaco.maco(
        Objective.channel(model, "conv1", 2),
        steps=2,
        crops=2,
        image_size=(height, width),
        values_range=(low, high),
        seed=height * 100 + width,
        verbose=False,
    )
    channels = 1 if gray else 3
    assert result.images.shape == (1, height, width, channels)
    assert result.images.min() >= low and result.images.max() <= high
    unit = result.images01()
    assert unit.min() >= 0.0 and unit.max() <= 1.0
    # Undo the value range, the sigmoid and the colour recorrelation: what is left must have
    # exactly the fixed magnitude (up to one scale), after the optimiser moved the phase.
    p = np.clip((result.images[0].astype(np.float64) - low) / span, 1e-7, 1 - 1e-7)
    decorrelated = np.log(p / (1 - p))
    if not gray:
        decorrelated = decorrelated @ np.linalg.inv(recorrelate_matrix().astype(np.float64))
    magnitude = np.abs(np.fft.rfft2(np.moveaxis(decorrelated, -1, 0)))
    target = spectrum.natural(height, width, channels)
    last = -1 if width % 2 == 0 else None  # irfft2d makes the Nyquist column Hermitian
    ratio = magnitude[:, :, 1:last] / target[:, :, 1:last]
    assert np.std(ratio) / np.mean(ratio) < 2e-2


# ---------------------------------------------------------------------------------- crop boxes
canvas = st.tuples(st.integers(8, 1024), st.integers(8, 1024)).filter(
    lambda hw: max(hw) / min(hw) > 4 or min(hw) < 64 or hw[0] % 2 == 1
)


@settings(max_examples=30, deadline=None)
@given(
    seeds=st.lists(st.integers(0, 2**40), min_size=1, max_size=3, unique=True),
    step=st.integers(0, 10**6),
    crops=st.integers(1, 8),
    size=st.floats(-0.5, 2.0),
    shape=canvas,
)
def test_jittered_boxes_stay_inside_square_and_in_range_on_any_canvas(
    seeds, step, crops, size, shape
):
    boxes = sample_boxes(tf.constant(seeds, tf.int64), tf.constant(step), crops, size, shape)
    boxes = boxes.numpy().astype(np.float64)
    assert boxes.shape == (len(seeds) * crops, 4)
    assert (boxes[:, :2] >= -1e-6).all() and (boxes[:, 2:] <= 1 + 1e-6).all()
    sides = (boxes[:, 2:] - boxes[:, :2]) * shape
    np.testing.assert_allclose(sides[:, 0], sides[:, 1], rtol=1e-3, atol=1e-2)
    shorter = min(shape)
    assert (sides[:, 0] >= MIN_CROP * shorter - 1e-2).all()
    assert (sides[:, 0] <= shorter + 1e-2).all()
    for i, seed in enumerate(seeds):
        alone = sample_boxes(tf.constant([seed], tf.int64), tf.constant(step), crops, size, shape)
        np.testing.assert_array_equal(boxes[i * crops : (i + 1) * crops], alone.numpy())


@settings(max_examples=8, deadline=None)
@given(
    kind=st.sampled_from([schedules.linear, schedules.cosine]),
    start=st.floats(MIN_CROP, 1.0),
    end=st.floats(MIN_CROP, 1.0),
    steps=st.integers(1, 500),
    probes=st.lists(st.integers(0, 600), min_size=1, max_size=4),
    shape=canvas,
)
def test_box_sides_follow_the_schedule_inside_one_trace(kind, start, end, steps, probes, shape):
    schedule = kind(start, end, steps)

    @tf.function
    def boxes_at(step):
        return sample_boxes(
            tf.constant([5], tf.int64), step, 3, schedule(step), shape, size_jitter=0.0
        )

    for step in probes:
        boxes = boxes_at(tf.constant(step, tf.int64)).numpy().astype(np.float64)
        sides = (boxes[:, 2] - boxes[:, 0]) * shape[0]
        expected = np.clip(float(schedule(step)), MIN_CROP, 1.0) * min(shape)
        np.testing.assert_allclose(sides, expected, rtol=1e-4, atol=2e-2)
    assert boxes_at.experimental_get_tracing_count() == 1


# ------------------------------------------------------------------------------------ spectra
@st.composite
def spectra(draw):
    """Arbitrary valid magnitudes: any layout, dtype, zeros and a wide dynamic range."""
    channels = draw(st.sampled_from([1, 3]))
    rows, columns = draw(st.integers(8, 80)), draw(st.integers(5, 41))
    dtype = draw(st.sampled_from([np.float16, np.float32, np.float64]))
    exponents = draw(
        hnp.arrays(np.float64, (channels, rows, columns), elements=st.floats(-8.0, 4.0))
    )
    values = 10.0**exponents
    values[draw(hnp.arrays(bool, values.shape))] = 0.0
    values.flat[0] = max(values.flat[0], 1.0)  # not all zero
    array = values.astype(dtype)
    if draw(st.booleans()):  # a non-contiguous view of the same values
        array = np.ascontiguousarray(array.transpose(0, 2, 1)).transpose(0, 2, 1)
    return array


@settings(max_examples=40, deadline=None)
@given(source=spectra(), height=st.integers(8, 300), width=st.integers(8, 300))
def test_any_spectrum_resizes_to_a_valid_magnitude_without_touching_the_input(
    source, height, width
):
    before = source.copy()
    resized = spectrum.resize(source, height, width)
    np.testing.assert_array_equal(source, before)
    assert resized.shape == (source.shape[0], height, width // 2 + 1)
    assert resized.dtype == np.float32 and resized.flags.c_contiguous
    assert np.isfinite(resized).all() and (resized >= 0).all()
    source_width = 2 * (source.shape[2] - 1)
    ratio = (height * width) / (source.shape[1] * source_width)
    zero = source[:, 0, 0].astype(np.float64) * ratio
    if resized.shape != source.shape:
        np.testing.assert_allclose(resized[:, 0, 0], zero.astype(np.float32), rtol=1e-6)
