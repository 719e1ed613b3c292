import pytest
import tensorflow as tf

from xmaco import schedules


def test_linear_and_cosine_work_on_ints_and_tensors():
    for schedule in (schedules.linear(0.5, 0.05, 11), schedules.cosine(0.5, 0.05, 11)):
        assert float(schedule(0)) == pytest.approx(0.5)
        assert float(schedule(10)) == pytest.approx(0.05)
        assert float(schedule(1000)) == pytest.approx(0.05)
        assert float(schedule(tf.constant(5, tf.int64))) == pytest.approx(float(schedule(5)))
    assert float(schedules.linear(0.0, 1.0, 5)(2)) == pytest.approx(0.5)
    assert float(schedules.cosine(1.0, 0.0, 5)(2)) == pytest.approx(0.5)


def test_schedules_trace_once_in_a_tf_function():
    schedule = schedules.linear(1.0, 0.0, 100)
    fn = tf.function(lambda step: schedule(step))
    values = [float(fn(tf.constant(i, tf.int64))) for i in range(5)]
    assert fn.experimental_get_tracing_count() == 1
    assert values == pytest.approx([1.0 - i / 99 for i in range(5)])


def test_as_schedule_checks_the_range_of_numbers_and_callables():
    assert schedules.as_schedule(0.3, "crop_size", 0.0, 1.0)(7) == 0.3
    with pytest.raises(
        ValueError,
        match=r"crop_size to be in \(0.0, 1.0\]. Received: "
        r"crop_size=1.2 at step 9",
    ):
        schedules.as_schedule(schedules.linear(0.5, 1.2, 10), "crop_size", 0.0, 1.0)
    with pytest.raises(ValueError, match="raised ZeroDivisionError"):
        schedules.as_schedule(lambda step: 1 / 0, "noise", 0.0)
    with pytest.raises(TypeError, match="noise=None"):
        schedules.as_schedule(None, "noise", 0.0)
    with pytest.raises(ValueError, match="steps=0"):
        schedules.linear(1.0, 0.0, 0)


def test_schedules_describe_themselves():
    assert schedules.describe(schedules.linear(0.5, 0.05, 8)) == {
        "schedule": "linear",
        "start": 0.5,
        "end": 0.05,
        "steps": 8,
    }
    assert schedules.describe(schedules.constant(0.1)) == {"schedule": "constant", "value": 0.1}
    assert schedules.describe(len)["schedule"] == "callable"
