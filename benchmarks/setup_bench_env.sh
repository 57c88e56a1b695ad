#!/usr/bin/env bash
# Build .venv-bench: the environment of benchmarks/bench_vs_pyroved.py.
#
# It holds torch (the pinned CPU build), pyroVED 0.3.0 (the reference implementation),
# pyro-ppl and matplotlib (what pyroVED imports), and this project in editable mode with its
# "stem" extra (rosettasciio, to read the shared dm3 image).
#
# pyroVED imports torchvision.utils.make_grid for its plotting helpers only, and there is no
# CPU torchvision build for torch 2.13 here, so pyroVED is installed with --no-deps and a
# stand-in `torchvision` package (benchmarks/torchvision_stub/) is copied into the bench
# environment: `torchvision.utils.make_grid` raises if called.  Training never calls it.
# Do NOT use .venv-bench for anything that needs the real torchvision.
#
# Usage (from anywhere):  bash benchmarks/setup_bench_env.sh   (PYTHON=python3.11 to choose)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
VENV=".venv-bench"
# Always with the constraints: an unpinned torch pulls several GB of CUDA packages.
PIP=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -c constraints.txt)

test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"

# torch first, pinned, so nothing later can pull another build.
"${PIP[@]}" torch==2.13.0
# The reference implementation without its declared deps (torchvision has no CPU build here).
"${PIP[@]}" pyroved==0.3.0 --no-deps
# What pyroVED imports besides torchvision: pyro (models, SVI) and matplotlib (its viz module).
echo "note: pip may report 'pyroved 0.3.0 requires torchvision': expected, a stand-in follows"
"${PIP[@]}" pyro-ppl matplotlib
# This project.
"${PIP[@]}" -e ".[stem]"  # rosettasciio: the whole-fit benchmark reads the shared dm3 image

# The torchvision stand-in, placed in the bench environment's site-packages.
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
rm -rf "$SITE/torchvision"
cp -R benchmarks/torchvision_stub/torchvision "$SITE/torchvision"
find "$SITE/torchvision" -name '__pycache__' -prune -exec rm -rf {} +

"$VENV/bin/python" - <<'PY'
import pyro
import pyroved
import torch
import torchvision

import shiftvae

assert getattr(torchvision, "IS_SHIFTVAE_BENCH_STUB", False), "torchvision is not the stub"
print(
    f"bench env ready: torch {torch.__version__}, pyro-ppl {pyro.__version__}, "
    f"pyroved {pyroved.__version__}, shiftvae {shiftvae.__version__}; "
    "torchvision is a stand-in (make_grid raises if called; pyroVED uses it for plots only)"
)
PY
