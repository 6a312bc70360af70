#!/usr/bin/env bash
# The whole test suite: prepares the lab (Python venv with the pinned moto),
# then runs every test of the workspace (unit, property, end-to-end).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tests/lab/setup.sh
cargo test --workspace "$@"
