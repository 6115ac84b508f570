#!/usr/bin/env bash
# Create .venv and install synthloop with everything the tests and the demo need.
# The pinned CPU torch goes in first: a bare torch requirement would pull a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
.venv/bin/pip install -q --disable-pip-version-check -e ".[models,dev]"
