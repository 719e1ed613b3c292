"""TensorFlow's start-up notices stay off stderr, and nothing else does."""

from __future__ import annotations

import os
import subprocess
import sys

NOTICES = ("cuInit", "cuda_platform.cc", "oneDNN custom operations", "cpu_feature_guard")


def _stderr(arguments: list[str]) -> str:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    completed = subprocess.run(
        [sys.executable, *arguments], capture_output=True, text=True, timeout=300, env=env
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stderr


def _notices(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if any(n in line for n in NOTICES)]


def test_the_command_line_prints_no_tensorflow_notice(tmp_path):
    code = (
        "import sys, xmaco.cli\n"
        "sys.exit(xmaco.cli.main(['demo', '--steps', '1', '--crops', '1', '--image-size', '32',"
        f" '--out', {str(tmp_path)!r}, '--quiet']))\n"
    )
    assert _notices(_stderr(["-c", code])) == []


def test_importing_xmaco_leaves_the_devices_alone():
    """No device is looked for at import: the environment can still choose them."""
    code = (
        "import os, xmaco\n"
        "from tensorflow.python.eager import context\n"
        "assert context.context()._physical_devices is None, 'devices listed at import'\n"
        "os.environ['CUDA_VISIBLE_DEVICES'] = ''\n"
        "import tensorflow as tf\n"
        "assert tf.config.list_physical_devices('GPU') == []\n"
        "cpus = tf.config.list_physical_devices('CPU')\n"
        "tf.config.set_logical_device_configuration(cpus[0], "
        "[tf.config.LogicalDeviceConfiguration()] * 2)\n"
        "assert len(tf.config.list_logical_devices('CPU')) == 2\n"
        "print(tf.reduce_sum(tf.ones([2, 2])).numpy())\n"
    )
    assert "Traceback" not in _stderr(["-c", code])


def test_importing_xmaco_imports_tensorflow_on_first_use():
    """The command line parses before TensorFlow loads; the first engine name loads it."""
    code = (
        "import sys, xmaco\n"
        "assert 'tensorflow' not in sys.modules, 'TensorFlow imported with xmaco'\n"
        "assert not hasattr(xmaco, 'no_such_name') and 'tensorflow' not in sys.modules\n"
        "assert callable(xmaco.maco) and 'tensorflow' in sys.modules\n"
    )
    assert _notices(_stderr(["-c", code])) == []


def test_a_module_imported_first_loads_tensorflow_without_notices():
    assert _notices(_stderr(["-c", "from xmaco.objectives import Objective"])) == []
