#!/usr/bin/env bash
# Create .venv and install synthloop with everything the tests and the demo need (train-hf: the hf
# trainer's tests, which need TRL and peft).
# The pinned CPU torch goes in first: a bare torch requirement would pull a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
.venv/bin/pip install -q --disable-pip-version-check -e ".[models,dev,train-hf,ray]"
# The report test renders report.html in headless Chromium (Debian `chromium`); install it where apt can.
if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "chromium could not be installed: the report rendering test will be skipped" >&2
fi
