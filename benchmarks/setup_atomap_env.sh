#!/usr/bin/env bash
# Build .venv-atomap: Atomap (and the HyperSpy it needs) for benchmarks/bench_physics_atomap.py.
#
# Atomap is the column-fitting peer: its own environment, as a user would install it, without
# torch or this project (the benchmark hands it images as .npz files).
#
# Usage (from anywhere):  bash benchmarks/setup_atomap_env.sh   (VENV=... PYTHON=... to choose)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv-atomap}"

test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check atomap==0.4.2
"$VENV/bin/python" -c "import atomap.api; print('atomap env ready')"
