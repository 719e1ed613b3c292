"""Importing xmaco keeps TensorFlow's start-up notices off stderr, and nothing else."""

from __future__ import annotations

import os
import subprocess
import sys

NOTICES = ("cuInit", "cuda_platform.cc", "oneDNN custom operations", "cpu_feature_guard")


def _stderr(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stderr


def test_importing_xmaco_and_using_devices_prints_no_tensorflow_notice():
    stderr = _stderr(
        "import xmaco, tensorflow as tf\n"
        "tf.config.list_physical_devices()\n"
        "print(tf.reduce_sum(tf.ones([2, 2])).numpy())\n"
    )
    assert not [line for line in stderr.splitlines() if any(n in line for n in NOTICES)], stderr


def test_devices_can_still_be_configured_after_the_import():
    stderr = _stderr(
        "import xmaco, tensorflow as tf\n"
        "cpus = tf.config.list_physical_devices('CPU')\n"
        "tf.config.set_logical_device_configuration(cpus[0], "
        "[tf.config.LogicalDeviceConfiguration()] * 2)\n"
        "assert len(tf.config.list_logical_devices('CPU')) == 2\n"
    )
    assert "Traceback" not in stderr
