#!/usr/bin/env bash
# The benchmark suite's timing sections on a GPU machine, in one short prepared run.
#
# A random-weight Keras ResNet50V2 (no download, no network needed) stands in for a real
# model: timing does not depend on the weights. One round of the step, batch and options
# sections (xmaco next to Xplique and the bare pass; N = 1, 4, 16; micro-batches, XLA,
# bfloat16), about 10 minutes on one GPU; results and their page go to bench/results/gpu/,
# next to (never over) the CPU figures. Usage: bench/gpu_check.sh [extra bench/run.py options]
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
test -x "$PY" || PY=python3
export TF_CPP_MIN_LOG_LEVEL=3

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" - <<'PYTHON'
import tensorflow as tf

gpus = tf.config.list_physical_devices("GPU")
assert gpus, "TensorFlow sees no GPU: nothing to measure here (see docs/benchmarks.md)"
print("TensorFlow", tf.__version__, "sees", [g.name for g in gpus])
PYTHON

"$PY" bench/run.py \
    --model resnet50v2 \
    --sections step,batch,options \
    --rounds 1 \
    --timeout 900 \
    --results bench/results/gpu \
    --docs bench/results/gpu/benchmarks.md \
    "$@"
echo "GPU figures: bench/results/gpu/benchmarks.md"
