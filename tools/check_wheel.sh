#!/usr/bin/env bash
# `make wheel-check`: the package as a user installs it, not the work tree. Builds the wheel,
# checks that it carries every file of the package, installs it with its `zoo` extra into a new
# virtual environment outside the repository and runs xmaco from there, so that a file missing
# from the package data or an import of a module that is not installed fails here.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
root=$(pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/xmaco-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Build from a copy of the project's files (tracked or new, not ignored): a build folder or the
# editable install's egg-info left in the work tree would otherwise fill in missing package data.
echo "wheel-check: building the wheel"
mkdir "$work/src"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' name; do
    [ -e "$name" ] && printf '%s\0' "$name"
done | xargs -0 cp --parents -t "$work/src"
"$python" -m pip wheel -q --no-deps --wheel-dir "$work/dist" "$work/src" >/dev/null
wheel=$(ls "$work"/dist/xmaco-*.whl)

# Every tracked file of the package must be in the wheel (data files included).
git ls-files -- xmaco >"$work/tracked"
"$python" - "$wheel" "$work/tracked" <<'PY'
import sys
import zipfile

wheel, tracked = sys.argv[1:]
packed = set(zipfile.ZipFile(wheel).namelist())
missing = [name for name in open(tracked).read().split() if name not in packed]
if missing:
    sys.exit(f"wheel-check: the wheel lacks {len(missing)} package file(s): {', '.join(missing)}")
PY

echo "wheel-check: installing $(basename "$wheel")[zoo] into a new virtual environment"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip
"$work/venv/bin/python" -m pip install -q "$wheel[zoo]"

# Run from outside the repository, with nothing of it on the path.
cd "$work"
unset PYTHONPATH
export XMACO_HOME="$work/home" XMACO_CACHE="$work/home" MPLBACKEND=Agg
"$work/venv/bin/xmaco" visualize --class goldfish --steps 2 --crops 2 --image-size 64 \
    --out "$work/out" --quiet
test -s "$work/out/xmaco_00.png" || {
    echo "wheel-check: xmaco visualize wrote no picture" >&2
    ls -la "$work/out" >&2
    exit 1
}
"$work/venv/bin/python" - "$root" <<'PY'
import sys
from pathlib import Path

import xmaco

source = Path(sys.argv[1]).resolve()
where = Path(xmaco.__file__).resolve()
if source in where.parents:
    sys.exit(f"wheel-check: imported xmaco from the work tree ({where}), not the wheel")
model = xmaco.zoo.efficientnet_lite0()
result = xmaco.maco(xmaco.Objective.neuron(model, "logits", 1), steps=2, crops=2, image_size=64)
assert result.images.shape == (1, 64, 64, 3), result.images.shape
print(f"wheel-check: passed (xmaco {xmaco.__version__} from {where.parent})")
PY
