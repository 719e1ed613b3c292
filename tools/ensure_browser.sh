#!/usr/bin/env bash
# `make browser`: the gallery's browser tests drive Debian's Chromium. Install it when it is
# missing and this user can (root with apt-get); otherwise stop at once with the command to run,
# before the test suite spends minutes on the tests that do not need it.
set -euo pipefail

for name in chromium chromium-browser; do
    if command -v "$name" >/dev/null 2>&1; then
        exit 0
    fi
done

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "make: the gallery's browser tests need Chromium, which is not installed; run" \
        "'sudo apt-get install -y chromium' (Debian/Ubuntu) and then 'make test' again" >&2
    exit 1
fi

echo "make: installing Debian's chromium for the gallery's browser tests (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }; then
    echo "make: 'apt-get install -y chromium' failed (see above); install Chromium and run" \
        "'make test' again" >&2
    exit 1
fi
