#!/usr/bin/env bash
# Install (idempotent), check the import layers (.importlinter) and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
.venv/bin/lint-imports --no-cache
.venv/bin/python -m pytest "$@"
